-- A provider's name as two names are compared to tell whether they are the same name: compatibility forms folded
-- (NFKC: a no-break space is a space, a ligature its letters), invisible characters dropped (zero-width spaces and
-- joiners, direction marks, word joiners, byte-order marks, soft hyphens), spaces run together, outer spaces off,
-- lower case. A provider may not register as, or rename itself to, a name another provider's folds the same
-- (marketplace.providers.service); the index finds one in a lookup. Names already held are left as they are.
create function provider_name_key(name text) returns text
    language sql immutable parallel safe strict
    return lower(btrim(regexp_replace(
        regexp_replace(normalize(name, NFKC), '[\u200b-\u200f\u2060\ufeff\u00ad]', '', 'g'), '\s+', ' ', 'g')));

create index provider_name_key on provider (provider_name_key(name));
