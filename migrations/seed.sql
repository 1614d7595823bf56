-- Demo data for the local stack, loaded once per database after the migrations
-- (`cargo xtask up`). Ids are fixed so tests and examples can name them; `cargo xtask
-- keys` style JWTs with `sub` set to a profile id act as that user.
-- Historical orders (spread over the last 12 months) are added right after this by the
-- same generator as `cargo xtask seed --orders N`.

insert into public.profiles (id, email, display_name) values
  -- merchants
  ('11111111-1111-4111-8111-000000000001', 'awa@payhuk.test', 'Awa Diallo'),
  ('11111111-1111-4111-8111-000000000002', 'kofi@payhuk.test', 'Kofi Mensah'),
  ('11111111-1111-4111-8111-000000000003', 'claire@payhuk.test', 'Claire Martin'),
  -- customers
  ('22222222-2222-4222-8222-000000000001', 'aminata@payhuk.test', 'Aminata Sow'),
  ('22222222-2222-4222-8222-000000000002', 'moussa@payhuk.test', 'Moussa Traore'),
  ('22222222-2222-4222-8222-000000000003', 'jean@payhuk.test', 'Jean Dupont'),
  ('22222222-2222-4222-8222-000000000004', 'fatou@payhuk.test', 'Fatou Ndiaye'),
  ('22222222-2222-4222-8222-000000000005', 'emily@payhuk.test', 'Emily Carter');

-- Every demo account signs in with the password `payhuk-demo-password`.
insert into payhuk_auth.credentials (user_id, password_hash)
select id, extensions.crypt('payhuk-demo-password', extensions.gen_salt('bf', 10)) from public.profiles;

insert into public.stores (id, owner_id, name, slug, default_currency) values
  ('33333333-3333-4333-8333-000000000001', '11111111-1111-4111-8111-000000000001', 'Awa Digital', 'awa-digital', 'XOF'),
  ('33333333-3333-4333-8333-000000000002', '11111111-1111-4111-8111-000000000002', 'Kofi Crafts', 'kofi-crafts', 'EUR'),
  ('33333333-3333-4333-8333-000000000003', '11111111-1111-4111-8111-000000000003', 'Claire Studio', 'claire-studio', 'USD');

insert into public.products (id, store_id, kind, name, description, price_minor, currency, stock, weight_grams, published) values
  -- Awa Digital: digital goods and a service, in XOF (no minor units)
  ('44444444-4444-4444-8444-000000000101', '33333333-3333-4333-8333-000000000001', 'digital',
   'Guide du e-commerce en Afrique de l''Ouest', 'Ebook PDF, 180 pages.', 5000, 'XOF', null, null, true),
  ('44444444-4444-4444-8444-000000000102', '33333333-3333-4333-8333-000000000001', 'digital',
   'Formation Mobile Money pour marchands', 'Video course, 6 hours.', 25000, 'XOF', null, null, true),
  ('44444444-4444-4444-8444-000000000103', '33333333-3333-4333-8333-000000000001', 'service',
   'Audit de boutique (1 h)', 'One-hour video call reviewing your store.', 15000, 'XOF', null, null, true),
  ('44444444-4444-4444-8444-000000000104', '33333333-3333-4333-8333-000000000001', 'digital',
   'Modeles de factures (brouillon)', 'Not released yet.', 3000, 'XOF', null, null, false),
  -- Kofi Crafts: physical goods in EUR, with stock
  ('44444444-4444-4444-8444-000000000201', '33333333-3333-4333-8333-000000000002', 'physical',
   'Kente scarf', 'Hand-woven, 180 x 30 cm.', 4500, 'EUR', 40, 200, true),
  ('44444444-4444-4444-8444-000000000202', '33333333-3333-4333-8333-000000000002', 'physical',
   'Carved wooden bowl', 'Mahogany, 25 cm.', 3200, 'EUR', 12, 900, true),
  ('44444444-4444-4444-8444-000000000203', '33333333-3333-4333-8333-000000000002', 'physical',
   'Beaded necklace', 'Recycled glass beads.', 1800, 'EUR', 3, 80, true),
  ('44444444-4444-4444-8444-000000000204', '33333333-3333-4333-8333-000000000002', 'physical',
   'Bolga basket (sold out)', 'Woven elephant grass.', 5500, 'EUR', 0, 1500, true),
  -- Claire Studio: USD, digital and physical
  ('44444444-4444-4444-8444-000000000301', '33333333-3333-4333-8333-000000000003', 'digital',
   'Lightroom presets pack', '24 presets.', 1900, 'USD', null, null, true),
  ('44444444-4444-4444-8444-000000000302', '33333333-3333-4333-8333-000000000003', 'physical',
   'Art print A3', 'Giclee print on cotton paper.', 3500, 'USD', 25, 300, true);

insert into public.product_files (id, product_id, storage_url, file_name, size_bytes) values
  ('55555555-5555-4555-8555-000000000101', '44444444-4444-4444-8444-000000000101',
   'https://storage.payhuk.test/awa/guide-ecommerce.pdf', 'guide-ecommerce.pdf', 4200000),
  ('55555555-5555-4555-8555-000000000102', '44444444-4444-4444-8444-000000000102',
   'https://storage.payhuk.test/awa/formation-mobile-money.zip', 'formation-mobile-money.zip', 880000000),
  ('55555555-5555-4555-8555-000000000301', '44444444-4444-4444-8444-000000000301',
   'https://storage.payhuk.test/claire/presets.zip', 'presets.zip', 52000000);

insert into public.shipping_zones (id, store_id, name, countries) values
  ('66666666-6666-4666-8666-000000000201', '33333333-3333-4333-8333-000000000002', 'West Africa',
   array['GH', 'CI', 'SN', 'BJ', 'TG', 'BF', 'ML', 'NG']),
  ('66666666-6666-4666-8666-000000000202', '33333333-3333-4333-8333-000000000002', 'Europe',
   array['FR', 'DE', 'BE', 'NL', 'IT', 'ES', 'PT']),
  ('66666666-6666-4666-8666-000000000301', '33333333-3333-4333-8333-000000000003', 'United States',
   array['US']);

insert into public.shipping_rates (zone_id, name, kind, price_minor, currency, min_weight_grams, max_weight_grams,
                                   free_over_minor, min_days, max_days) values
  ('66666666-6666-4666-8666-000000000201', 'Standard (under 1 kg)', 'weight', 800, 'EUR', 0, 1000, null, 3, 7),
  ('66666666-6666-4666-8666-000000000201', 'Standard (1 to 5 kg)', 'weight', 1500, 'EUR', 1000, 5000, null, 3, 7),
  ('66666666-6666-4666-8666-000000000202', 'Colissimo', 'flat', 1200, 'EUR', null, null, 10000, 5, 10),
  ('66666666-6666-4666-8666-000000000301', 'USPS Priority', 'flat', 900, 'USD', null, null, 7500, 2, 5);

-- A few recent orders with their payment, shipment and download trail.
do $$
declare
  v_now timestamptz := now() - interval '2 days';
begin
  -- Two days ago may be last month (on the 1st and 2nd): give every month these rows
  -- fall in its partition first, or they would sit in the default partitions.
  perform payhuk_meta.ensure_partitions_covering(v_now - interval '1 hour', v_now + interval '1 day');
  insert into public.orders (id, store_id, customer_id, status, currency, subtotal_minor, shipping_minor, total_minor, created_at, updated_at) values
    ('77777777-7777-4777-8777-000000000001', '33333333-3333-4333-8333-000000000001',
     '22222222-2222-4222-8222-000000000001', 'paid', 'XOF', 30000, 0, 30000, v_now, v_now),
    ('77777777-7777-4777-8777-000000000002', '33333333-3333-4333-8333-000000000002',
     '22222222-2222-4222-8222-000000000003', 'fulfilled', 'EUR', 7700, 800, 8500, v_now, v_now);
  insert into public.order_items (order_id, order_created_at, product_id, quantity, unit_price_minor, line_total_minor) values
    ('77777777-7777-4777-8777-000000000001', v_now, '44444444-4444-4444-8444-000000000101', 1, 5000, 5000),
    ('77777777-7777-4777-8777-000000000001', v_now, '44444444-4444-4444-8444-000000000102', 1, 25000, 25000),
    ('77777777-7777-4777-8777-000000000002', v_now, '44444444-4444-4444-8444-000000000201', 1, 4500, 4500),
    ('77777777-7777-4777-8777-000000000002', v_now, '44444444-4444-4444-8444-000000000202', 1, 3200, 3200);

  insert into public.payments (id, order_id, order_created_at, store_id, customer_id, provider, provider_ref,
                               status, amount_minor, currency, captured_minor, created_at, updated_at) values
    ('88888888-8888-4888-8888-000000000001', '77777777-7777-4777-8777-000000000001', v_now,
     '33333333-3333-4333-8333-000000000001', '22222222-2222-4222-8222-000000000001',
     'moneroo', 'mnr_demo_0001', 'succeeded', 30000, 'XOF', 30000, v_now, v_now),
    ('88888888-8888-4888-8888-000000000002', '77777777-7777-4777-8777-000000000002', v_now,
     '33333333-3333-4333-8333-000000000002', '22222222-2222-4222-8222-000000000003',
     'card', 'card_demo_0002', 'succeeded', 8500, 'EUR', 8500, v_now, v_now);
  insert into public.transaction_logs (created_at, payment_id, event, from_status, to_status, amount_minor, provider_event_id) values
    (v_now, '88888888-8888-4888-8888-000000000001', 'created', null, 'pending', 30000, null),
    (v_now + interval '1 minute', '88888888-8888-4888-8888-000000000001', 'succeeded', 'pending', 'succeeded', 30000, 'evt_demo_0001'),
    (v_now, '88888888-8888-4888-8888-000000000002', 'created', null, 'pending', 8500, null),
    (v_now + interval '1 minute', '88888888-8888-4888-8888-000000000002', 'succeeded', 'pending', 'succeeded', 8500, 'evt_demo_0002');

  insert into public.shipments (id, order_id, order_created_at, store_id, carrier, tracking_number, status, created_at) values
    ('99999999-9999-4999-8999-000000000001', '77777777-7777-4777-8777-000000000002', v_now,
     '33333333-3333-4333-8333-000000000002', 'DHL', 'JD014600003SN', 'delivered', v_now + interval '1 hour');
  insert into public.shipment_events (shipment_id, status, location, occurred_at) values
    ('99999999-9999-4999-8999-000000000001', 'label_created', 'Accra', v_now + interval '1 hour'),
    ('99999999-9999-4999-8999-000000000001', 'in_transit', 'Accra hub', v_now + interval '5 hours'),
    ('99999999-9999-4999-8999-000000000001', 'delivered', 'Lyon', v_now + interval '1 day');

  insert into public.digital_downloads (created_at, product_file_id, order_id, order_created_at, customer_id, store_id, client_ip, user_agent) values
    (v_now + interval '2 minutes', '55555555-5555-4555-8555-000000000101', '77777777-7777-4777-8777-000000000001', v_now,
     '22222222-2222-4222-8222-000000000001', '33333333-3333-4333-8333-000000000001', '41.82.10.7', 'Mozilla/5.0 (Android 14)');

  insert into public.analytics_events (name, session_id, path, props, store_id, created_at) values
    ('page_view', 'sess-demo-1', '/awa-digital', '{}', '33333333-3333-4333-8333-000000000001', v_now - interval '5 minutes'),
    ('add_to_cart', 'sess-demo-1', '/awa-digital/guide', '{"product_id": "44444444-4444-4444-8444-000000000101"}',
     '33333333-3333-4333-8333-000000000001', v_now - interval '3 minutes'),
    ('checkout', 'sess-demo-1', '/checkout', '{"total_minor": 30000, "currency": "XOF"}',
     '33333333-3333-4333-8333-000000000001', v_now - interval '1 minute');
end
$$;
