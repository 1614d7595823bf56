-- Reference data every service reads: currencies (amounts are integers in minor units
-- of these) and the deployment's regions.

create table public.currencies (
  code text primary key check (code ~ '^[A-Z]{3}$'),
  name text not null,
  -- Digits after the decimal point: 0 for XOF (1 XOF is the smallest unit), 2 for EUR.
  minor_units smallint not null check (minor_units between 0 and 4)
);

insert into public.currencies (code, name, minor_units) values
  ('XOF', 'West African CFA franc', 0),
  ('XAF', 'Central African CFA franc', 0),
  ('EUR', 'Euro', 2),
  ('USD', 'United States dollar', 2),
  ('GHS', 'Ghanaian cedi', 2),
  ('NGN', 'Nigerian naira', 2);

comment on table public.currencies is 'ISO 4217 currencies accepted for prices; amounts are stored in minor units.';

-- The regions of the deployment. `role` is the role each region was built for; the
-- gateway routes by what nodes report (node_status()), so a promoted standby does not
-- need this table changed.
create table public.regions (
  code text primary key check (code ~ '^[a-z]{3}[0-9]$'),
  name text not null,
  role text not null check (role in ('primary', 'replica')),
  latitude double precision not null check (latitude between -90 and 90),
  longitude double precision not null check (longitude between -180 and 180)
);

insert into public.regions (code, name, role, latitude, longitude) values
  ('iad1', 'Washington, D.C., USA', 'primary', 38.95, -77.45),
  ('sfo1', 'San Francisco, USA', 'replica', 37.77, -122.42),
  ('fra1', 'Frankfurt, Germany', 'replica', 50.11, 8.68);

create unique index regions_one_primary on public.regions (role) where role = 'primary';
