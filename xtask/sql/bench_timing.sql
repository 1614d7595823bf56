-- Timing helpers the benchmark scripts share, run before them: the time a statement
-- takes on the server (no client round trip), and medians of such times.

create schema if not exists bench;

create or replace function bench.time_ms(q text) returns double precision
language plpgsql as $$
declare
  started timestamptz := clock_timestamp();
begin
  execute q;
  return extract(epoch from clock_timestamp() - started) * 1000;
end $$;

-- The median of n timed runs, after one untimed run to warm the cache.
create or replace function bench.median_ms(q text, n int) returns double precision
language plpgsql as $$
declare
  times double precision[] := '{}';
begin
  execute q;
  for i in 1..n loop
    times := times || bench.time_ms(q);
  end loop;
  return (select percentile_cont(0.5) within group (order by t) from unnest(times) t);
end $$;

-- The median time of running each statement once, each after one untimed run of it:
-- lookups of different rows (ids, customers), each warm.
create or replace function bench.median_of_ms(qs text[]) returns double precision
language plpgsql as $$
declare
  times double precision[] := '{}';
  q text;
begin
  foreach q in array qs loop
    execute q;
    times := times || bench.time_ms(q);
  end loop;
  return (select percentile_cont(0.5) within group (order by t) from unnest(times) t);
end $$;

