-- Names that differ only in accents are one name: "Wrekin Gatéway Trust" is "Wrekin Gateway Trust" to a reader
-- telling organisations apart. As 0026, with the letters' combining marks (accents, cedillas, diaereses) dropped
-- after compatibility folding and canonical decomposition (NFKC, then NFD). Names already held are left as they are.
create or replace function provider_name_key(name text) returns text
    language sql immutable parallel safe strict
    return lower(btrim(regexp_replace(
        regexp_replace(normalize(normalize(name, NFKC), NFD), '[\u0300-\u036f\u200b-\u200f\u2060\ufeff\u00ad]', '', 'g'),
        '\s+', ' ', 'g')));

-- the index holds keys the old function made
reindex index provider_name_key;
