-- Prices are bounded so that no order line or total can overflow bigint. The most one
-- order holds of a product is 100 lines of 1000 (create_order sums a product listed
-- twice), so a price of at most 10^12 minor units (ten billion of a two-decimal
-- currency, a trillion francs) makes every line and subtotal at most 10^17, far under
-- bigint's 9.2 * 10^18. The gateway refuses a larger price with 422 before it is sent;
-- a write through /rest/v1 gets PostgREST's 400 for the check.
alter table public.products
  add constraint products_price_bounded check (price_minor <= 1000000000000);
alter table public.shipping_rates
  add constraint shipping_rates_price_bounded check (price_minor <= 1000000000000);
