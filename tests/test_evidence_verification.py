"""Evidence strength and desired outcomes through the real app (issue 12, items 4 and 5): admins verify (and
withdraw the verification of) an accreditation or an outcomes record; a provider changing what was verified makes it
self-declared again; matching reads the verification; desired outcomes are a validated vocabulary per pathway."""

from __future__ import annotations

import json

import pytest
import zstandard
from conftest import fetchval

import matching
from marketplace import db
from matching.vocab import SOCIAL_VALUE_ACCREDITATIONS

pytestmark = pytest.mark.asyncio

SEEN = {"seen": "certificate no. 123 seen, valid to 2027-03"}


SOCIAL_VALUE = list(SOCIAL_VALUE_ACCREDITATIONS)


async def unverified_provider(dsn: str, services: list[int] | None = None) -> tuple[int, int, str]:
    """A published ACCOM provider with a quality accreditation of its own and an ACCOM service with outcomes
    records (one of `services`, when given), nothing of it verified: (provider id, service id, accreditation)."""
    conn = await db.connect(dsn)
    try:
        row = await conn.fetchrow(
            """select p.id, s.id as service_id, min(pa.accreditation_code) as code
               from provider p
               join provider_accreditation pa on pa.provider_id = p.id
               join service s on s.provider_id = p.id and s.pathway_code = 'ACCOM' and s.status = 'active'
               where p.status = 'published'
                 and exists(select from service_outcome o where o.service_id = s.id)
                 and not exists(select from evidence_verification v where v.provider_id = p.id)
                 and pa.accreditation_code <> all($1::text[])
                 and ($2::bigint[] is null or s.id = any($2::bigint[]))
               group by p.id, s.id order by p.id, s.id limit 1""",
            SOCIAL_VALUE,
            services,
        )
        assert row is not None
        return row["id"], row["service_id"], row["code"]
    finally:
        await conn.close()


async def rows(dsn: str, sql: str, *args: object) -> list[dict]:
    conn = await db.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def state(dsn: str, provider_id: int) -> str:
    """What a refused request must not change."""
    got = await rows(
        dsn,
        """select (select version from provider where id = $1) as version,
                  (select count(*) from evidence_verification where provider_id = $1) as verifications,
                  (select count(*) from profile_history where resource_id = $1) as history""",
        provider_id,
    )
    return json.dumps(got)


async def tag(client, provider_id: int, headers: dict) -> str:
    r = await client.get(f"/providers/{provider_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def test_only_an_admin_verifies_with_if_match_and_what_was_seen(client, keys, fresh_db):
    pid, sid, code = await unverified_provider(fresh_db)
    admin = await keys.headers("admin")
    path = f"/providers/{pid}/accreditations/{code}/verification"
    before = await state(fresh_db, pid)
    current = await tag(client, pid, admin)
    for role, headers in (
        ("provider", await keys.headers("provider", pid)),
        ("commissioner", await keys.headers("commissioner")),
    ):
        r = await client.post(path, json=SEEN, headers={**headers, "If-Match": current})
        assert r.status_code == 403, (role, r.text)
        assert r.json()["error"] == "forbidden"
    assert (await client.post(path, json=SEEN)).status_code == 401
    assert (await client.post(path, json=SEEN, headers=admin)).status_code == 428
    stale = await client.post(path, json=SEEN, headers={**admin, "If-Match": '"v999"'})
    assert stale.status_code == 412
    blank = await client.post(path, json={"seen": "   "}, headers={**admin, "If-Match": current})
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["field"] == "seen"
    missing = await client.post(path, json={}, headers={**admin, "If-Match": current})
    assert missing.status_code == 400
    assert "seen" in missing.text
    held_sql = "select array_agg(accreditation_code) from provider_accreditation where provider_id = $1"
    held = await fetchval(fresh_db, held_sql, pid) or []
    other = next(c for c in ("rsq", "leading_lights", "cyber_essentials", "iso_9001") if c not in held)
    not_held = await client.post(
        f"/providers/{pid}/accreditations/{other}/verification", json=SEEN, headers={**admin, "If-Match": current}
    )
    assert not_held.status_code == 404 and other in not_held.json()["message"]
    for method in ("POST", "DELETE"):  # a code the taxonomy has not: told its form and the closest
        kwargs = {"json": SEEN} if method == "POST" else {}
        unknown = await client.request(
            method,
            f"/providers/{pid}/accreditations/Matrix_Standard/verification",
            headers={**admin, "If-Match": current},
            **kwargs,
        )
        assert unknown.status_code == 404, unknown.text
        [told] = unknown.json()["errors"]
        assert told["field"] == "code" and told["suggestion"] == "matrix_standard", told
        assert told["problem"].startswith("'Matrix_Standard' is not an accreditation code: accreditation codes are")
    no_record = await client.post(
        f"/providers/{pid}/services/{sid}/outcomes/19/verification", json=SEEN, headers={**admin, "If-Match": current}
    )
    assert no_record.status_code == 404
    assert await state(fresh_db, pid) == before, "a refused verification wrote something"

    r = await client.post(path, json=SEEN, headers={**admin, "If-Match": current})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] != current  # a verification is a change to the profile
    (v,) = r.json()["verifications"]
    assert v["subject"] == f"accreditations[{code}]" and v["seen"] == SEEN["seen"]
    assert v["verified_by_role"] == "admin" and v["verified_by"] is not None and v["verified_at"]
    history = (await client.get(f"/providers/{pid}/history", headers=admin)).json()["items"]
    assert history[0]["last_action_type"] == "verify_evidence"
    assert history[0]["field_name"] == f"accreditations[{code}].verification"
    assert history[0]["replacement_value"]["seen"] == SEEN["seen"]
    assert history[0]["updated_by_role"] == "admin"
    audit = await rows(fresh_db, "select detail, status from audit_log where provider_id = $1 order by id desc", pid)
    assert audit[0]["detail"] == f"verified accreditations[{code}]" and audit[0]["status"] == 200

    # the outcomes record: its content is in the history, the service shows the verification
    out_path = f"/providers/{pid}/services/{sid}/outcomes/0/verification"
    r = await client.post(
        out_path, json={"seen": "contract return seen"}, headers={**admin, "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    svc = (await client.get(f"/providers/{pid}/services/{sid}")).json()
    assert [x["subject"] for x in svc["verifications"]] == ["outcomes[0]"]
    history = (await client.get(f"/providers/{pid}/history", headers=admin)).json()["items"]
    assert history[0]["field_name"] == f"services[{sid}].outcomes[0].verification"
    assert history[0]["replacement_value"]["record"]["outcome"] == svc["outcomes"][0]["outcome"]

    # withdrawn: self-declared again; withdrawing again is a 404
    etag_now = r.headers["etag"]
    gone = await client.delete(out_path, headers={**admin, "If-Match": etag_now})
    assert gone.status_code == 200, gone.text
    assert (await client.get(f"/providers/{pid}/services/{sid}")).json()["verifications"] == []
    again = await client.delete(out_path, headers={**admin, "If-Match": gone.headers["etag"]})
    assert again.status_code == 404
    history = (await client.get(f"/providers/{pid}/history", headers=admin)).json()["items"]
    assert history[0]["last_action_type"] == "withdraw_verification"
    assert history[0]["previous_value"]["seen"] == "contract return seen" and history[0]["replacement_value"] is None


async def test_a_provider_changing_what_was_verified_makes_it_self_declared_again(client, keys, fresh_db):
    pid, sid, code = await unverified_provider(fresh_db)
    admin = await keys.headers("admin")
    own = await keys.headers("provider", pid)
    r = await client.post(
        f"/providers/{pid}/services/{sid}/outcomes/0/verification",
        json=SEEN,
        headers={**admin, "If-Match": await tag(client, pid, admin)},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/providers/{pid}/accreditations/{code}/verification",
        json=SEEN,
        headers={**admin, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text

    # an edit that leaves the record as it was keeps the verification
    service = await client.get(f"/providers/{pid}/services/{sid}")
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        json={"capacity": {"service_users_per_year": 61}},
        headers={**own, "If-Match": service.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert [v["subject"] for v in r.json()["verifications"]] == ["outcomes[0]"]

    # changing the verified record (its figure) ends the verification, and the history says so
    records = r.json()["outcomes"]
    records[0]["value"] = (records[0]["value"] or 0) + 1
    r = await client.patch(
        f"/providers/{pid}/services/{sid}", json={"outcomes": records}, headers={**own, "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["verifications"] == []
    history = (await client.get(f"/providers/{pid}/history", headers=own)).json()["items"]
    lapsed = [h for h in history if h["field_name"] == f"services[{sid}].outcomes.verification"]
    assert lapsed and lapsed[0]["replacement_value"] is None and lapsed[0]["previous_value"]["seen"] == SEEN["seen"]

    # removing the verified accreditation ends its verification; adding it back does not restore it
    profile = (await client.get(f"/providers/{pid}", headers=own)).json()
    assert [v["subject"] for v in profile["verifications"]] == [f"accreditations[{code}]"]
    kept = [a for a in profile["accreditations"] if a != code]
    r = await client.put(
        f"/providers/{pid}/accreditations",
        json={"accreditations": kept},
        headers={**own, "If-Match": await tag(client, pid, own)},
    )
    assert r.status_code == 200, r.text
    r = await client.put(
        f"/providers/{pid}/accreditations",
        json={"accreditations": [*kept, code]},
        headers={**own, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["verifications"] == []
    assert await rows(fresh_db, "select id from evidence_verification where provider_id = $1", pid) == []


async def test_matching_weighs_the_verification_and_says_so(client, keys, fresh_db):
    admin = await keys.headers("admin")
    commissioner = await keys.headers("commissioner")
    need = await rows(fresh_db, "select id from need where pathway_code = 'ACCOM' order by id limit 1")
    need_id = need[0]["id"]
    before = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=commissioner)).json()
    pid, sid, code = await unverified_provider(fresh_db, [x for s in before["ranking"] for x in s["service_ids"]])

    def mine(run: dict) -> dict:
        return next(s for s in run["ranking"] if s["provider_id"] == pid)

    def quality(run: dict) -> dict:
        return next(c for c in mine(run)["criteria"] if c["criterion"] == "quality")

    assert "self-declared" in quality(before)["evidence"][1]
    etag_now = await tag(client, pid, admin)
    for path in (f"accreditations/{code}", f"services/{sid}/outcomes/0"):
        r = await client.post(
            f"/providers/{pid}/{path}/verification", json=SEEN, headers={**admin, "If-Match": etag_now}
        )
        assert r.status_code == 200, r.text
        etag_now = r.headers["etag"]
    after = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=commissioner)).json()
    assert after["id"] != before["id"]  # the directory changed: a new run
    assert after["algorithm_version"] == matching.ALGORITHM_VERSION
    assert mine(after)["total"] > mine(before)["total"]
    assert quality(after)["score"] > quality(before)["score"]
    assert f"{code} (verified)" in quality(after)["evidence"][0]
    assert "verified" in quality(after)["summary"]


async def test_desired_outcomes_are_a_vocabulary_per_pathway_checked_on_needs_and_records(client, keys, fresh_db):
    everything = (await client.get("/desired-outcomes")).json()
    accom = (await client.get("/desired-outcomes", params={"pathway": "ACCOM"})).json()
    assert accom and {d["pathway"] for d in accom} == {"ACCOM"} and len(everything) > len(accom)
    assert "ACCOM_KEEP" in {d["code"] for d in accom}
    bad = await client.get("/desired-outcomes", params={"pathway": "ACOM"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["suggestion"] == "ACCOM"

    commissioner = await keys.headers("commissioner")
    exercise = (
        await client.post(
            "/exercises", json={"title": "Desired outcomes", "commissioning_body": "Test"}, headers=commissioner
        )
    ).json()
    need = {
        "title": "Accommodation, Telford",
        "pathway": "ACCOM",
        "areas": ["E06000020"],
        "annual_volume": 60,
        "annual_budget": 120000,
    }
    unknown = await client.post(
        f"/exercises/{exercise['id']}/needs",
        json={**need, "desired_outcomes": ["ACCOM_KEEP", "ACCOM_KEPT"]},
        headers=commissioner,
    )
    assert unknown.status_code == 422
    (problem,) = unknown.json()["errors"]
    assert problem["field"] == "desired_outcomes[1]" and problem["suggestion"] == "ACCOM_KEEP"
    other = await client.post(
        f"/exercises/{exercise['id']}/needs", json={**need, "desired_outcomes": ["ETE_JOB"]}, headers=commissioner
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "desired_outcomes[0]"
    assert "belongs to pathway ETE" in other.json()["errors"][0]["problem"]
    made = await client.post(
        f"/exercises/{exercise['id']}/needs", json={**need, "desired_outcomes": ["ACCOM_KEEP"]}, headers=commissioner
    )
    assert made.status_code == 201, made.text
    assert made.json()["desired_outcomes"] == ["ACCOM_KEEP"]
    # changing the pathway leaves the desired outcomes of another pathway: refused, naming them
    moved = await client.patch(
        f"/needs/{made.json()['id']}",
        json={"pathway": "ETE"},
        headers={**commissioner, "If-Match": made.headers["etag"]},
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "desired_outcomes[0]"

    pid, sid, _ = await unverified_provider(fresh_db)
    own = await keys.headers("provider", pid)
    service = await client.get(f"/providers/{pid}/services/{sid}")
    records = service.json()["outcomes"]
    records[0]["desired_outcomes"] = ["ACCOM_KEEP", "ETE_JOB"]
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        json={"outcomes": records},
        headers={**own, "If-Match": service.headers["etag"]},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "outcomes[0].desired_outcomes[1]"
    records[0]["desired_outcomes"] = ["ACCOM_KEEP"]
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        json={"outcomes": records},
        headers={**own, "If-Match": service.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0]["desired_outcomes"] == ["ACCOM_KEEP"]


async def test_the_seeded_market_has_desired_outcomes_and_some_verified_evidence(read_client, read_keys, read_db):
    needs = await rows(read_db, "select pathway_code, desired_outcomes from need")
    assert needs and all(n["desired_outcomes"] for n in needs)
    verified = await rows(
        read_db,
        """select count(*) filter (where accreditation_code is not null) as accreditations,
                  count(*) filter (where outcome_fingerprint is not null) as outcomes
           from evidence_verification""",
    )
    assert verified[0]["accreditations"] >= 3 and verified[0]["outcomes"] >= 3
    pid = (await rows(read_db, "select provider_id from evidence_verification order by id limit 1"))[0]["provider_id"]
    profile = (await read_client.get(f"/providers/{pid}")).json()
    subjects = [v["subject"] for v in profile["verifications"]] + [
        v["subject"] for s in profile["services"] for v in s["verifications"]
    ]
    assert any(x.startswith("accreditations[") for x in subjects) and "outcomes[0]" in subjects
    history = (await read_client.get(f"/providers/{pid}/history", headers=await read_keys.headers("admin"))).json()
    assert any(h["last_action_type"] == "verify_evidence" for h in history["items"])


async def test_a_run_stored_under_the_previous_algorithm_is_still_readable(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    need_id = (await rows(fresh_db, "select id from need where pathway_code = 'ACCOM' order by id limit 1"))[0]["id"]
    run = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 5}, headers=h)).json()
    [made] = await rows(fresh_db, "select document_zstd from match_run where id = $1", run["id"])
    earlier = (
        zstandard.decompress(made["document_zstd"]).decode().replace(f'"{matching.ALGORITHM_VERSION}"', '"2026.12-1"')
    )
    old = (  # stored as runs were before schema/0022: the document as text, uncompressed
        await rows(
            fresh_db,
            """insert into match_run (need_id, exercise_id, created_by, algorithm_version, candidate_count, document)
               select need_id, exercise_id, created_by, '2026.12-1', candidate_count, $2
               from match_run where id = $1 returning id""",
            run["id"],
            earlier,
        )
    )[0]["id"]
    got = await client.get(f"/match-runs/{old}", headers=h)
    assert got.status_code == 200, got.text
    assert got.json()["algorithm_version"] == "2026.12-1"
    assert [s["provider_id"] for s in got.json()["ranking"]] == [s["provider_id"] for s in run["ranking"]]


# -- a commissioner's judgement, through the app -------------------------------------------------------------

STUFFED = (
    "Tenancy sustainment for care leavers and prison leavers. Supported housing for care leavers. Rural outreach "
    "in Herefordshire. Tenancy sustainment, supported housing, rural outreach, care leavers."
)


def fictional(name: str, legal_form: str, founded: int, service: dict, accreditations: list[str]) -> dict:
    return {
        "name": name,
        "legal_form": legal_form,
        "founded_year": founded,
        "finances": {"annual_income": 400000, "reserves_months": 4},
        "resources": {"volunteers": 10, "other_funding_sources": ["Grant", "Trading"]},
        "accreditations": accreditations,
        "services": [
            {
                "pathway": "ACCOM",
                "cohorts": ["ADULTS", "CARE_LEAVERS"],
                "areas": ["E06000019"],
                "capacity": {"service_users_per_year": 90},
                **service,
            }
        ],
    }


CIC = fictional(
    "Brightpath Tenancy CIC",
    "cic",
    2025,
    {
        "name": "Tenancy sustainment",
        "description": STUFFED,
        "years_delivering": 1,
        "outcomes": [
            {
                "outcome": "Tenancies sustained",
                "measure": "internal monitoring",
                "value": 95,
                "period": "2025-26",
                "people": 12,
                "desired_outcomes": ["ACCOM_OBTAIN", "ACCOM_KEEP"],
            }
        ],
    },
    ["iso_9001", "matrix_standard"],
)
TRUST = fictional(
    "Severn Vale Housing Trust",
    "registered_charity",
    1998,
    {
        "name": "Housing support",
        "description": "Housing support for people leaving prison and young people leaving care.",
        "years_delivering": 6,
        "accreditations": ["matrix_standard"],
        "outcomes": [
            {
                "outcome": "Tenancies kept at 12 months",
                "measure": "share of residents housed at 12 months",
                "value": 0.81,
                "period": "2024-25",
                "people": 140,
                "source": "independently_evaluated",
                "desired_outcomes": ["ACCOM_OBTAIN", "ACCOM_KEEP"],
            }
        ],
    },
    ["iso_9001"],
)


async def test_a_new_cic_with_stuffed_words_and_self_declared_outcomes_ranks_below_a_verified_trust(
    client, keys, fresh_db
):
    admin = await keys.headers("admin")
    commissioner = await keys.headers("commissioner")
    ids = {}
    for profile in (CIC, TRUST):
        r = await client.post("/registrations", json=profile)
        assert r.status_code == 201, r.text
        pid = r.json()["provider"]["id"]
        assert (await client.post(f"/providers/{pid}/publish", headers=admin)).status_code == 200
        ids[profile["name"]] = pid
    exercise = (
        await client.post(
            "/exercises", json={"title": "Herefordshire housing", "commissioning_body": "Test"}, headers=commissioner
        )
    ).json()
    need = await client.post(
        f"/exercises/{exercise['id']}/needs",
        json={
            "title": "Tenancy sustainment, Herefordshire",
            "pathway": "ACCOM",
            "areas": ["E06000019"],
            "annual_volume": 80,
            "annual_budget": 160000,
            "cohorts": ["ADULTS", "CARE_LEAVERS"],
            "local_priorities": [
                {"text": "tenancy sustainment for care leavers", "weight": 2},
                {"text": "rural outreach", "weight": 1},
            ],
            "desired_outcomes": ["ACCOM_OBTAIN", "ACCOM_KEEP"],
        },
        headers=commissioner,
    )
    assert need.status_code == 201, need.text

    async def ranks() -> dict[str, dict]:
        run = await client.post(f"/needs/{need.json()['id']}/match-runs", params={"limit": 500}, headers=commissioner)
        assert run.status_code in (200, 201), run.text
        return {s["name"]: s for s in run.json()["ranking"] if s["provider_id"] in ids.values()}

    before = await ranks()  # everything self-declared: the stuffed words carry the CIC above the trust
    assert before[CIC["name"]]["rank"] < before[TRUST["name"]]["rank"]

    trust = ids[TRUST["name"]]
    sid = (await client.get(f"/providers/{trust}/services")).json()[0]["id"]
    etag_now = (await client.get(f"/providers/{trust}")).headers["etag"]
    for path, seen in (
        ("accreditations/iso_9001", "ISO 9001 certificate seen, valid to 2027-05"),
        (f"services/{sid}/accreditations/matrix_standard", "matrix Standard accreditation letter seen"),
        (f"services/{sid}/outcomes/0", "independent evaluation report (2025) seen; figures match"),
    ):
        r = await client.post(
            f"/providers/{trust}/{path}/verification", json={"seen": seen}, headers={**admin, "If-Match": etag_now}
        )
        assert r.status_code == 200, r.text
        etag_now = r.headers["etag"]

    after = await ranks()
    cic, verified = after[CIC["name"]], after[TRUST["name"]]
    assert verified["rank"] < cic["rank"], "the verified, established provider ranks above the CIC"

    def criterion(s: dict, name: str) -> dict:
        return next(c for c in s["criteria"] if c["criterion"] == name)

    assert criterion(cic, "local_priorities")["score"] > criterion(verified, "local_priorities")["score"]
    assert "only self-declared outcomes records" in criterion(cic, "quality")["summary"]
    assert "internal monitoring" in criterion(cic, "quality")["evidence"][1]
    assert "(2 verified)" in criterion(verified, "quality")["summary"]
    assert "evidences 2 of the 2 desired outcomes" in criterion(verified, "quality")["evidence"][1]
