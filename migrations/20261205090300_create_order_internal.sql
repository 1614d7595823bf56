-- create_order is place_order's engine, not an entry point (security review): called
-- directly through /rest/v1/rpc/create_order it placed an order with no idempotency
-- key, so a client retrying a lost answer ordered twice. Clients place orders with
-- place_order (POST /api/v1/orders, or /rest/v1/rpc/place_order); place_order is
-- security definer and calls create_order as its owner.

revoke execute on function public.create_order(jsonb) from authenticated;

comment on function public.create_order(jsonb) is
  'place_order''s engine: prices and stock from products, for the signed-in customer. Not granted to clients.';
