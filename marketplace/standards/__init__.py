"""Open Referral UK (HSDS 3.0): the published directory as the ecosystem's standard read API, under /hsds."""
