//! The auth, products and orders services through the gateway, on the real stack.

use std::time::Duration;

use payhuk_stack_tests::{
    PlainWorkerd, ReplayPaused, Reply, caught_up, concurrently, eventually, request, stack,
    user_token, via_edge,
};
use serde_json::{Value, json};

const PASSWORD: &str = "payhuk-demo-password";
const AMINATA: &str = "aminata@payhuk.test";
const JEAN: &str = "jean@payhuk.test";
const AWA: &str = "awa@payhuk.test";
const KOFI: &str = "kofi@payhuk.test";
const AWA_STORE: &str = "33333333-3333-4333-8333-000000000001";
const KOFI_STORE: &str = "33333333-3333-4333-8333-000000000002";
const AWA_DRAFT: &str = "44444444-4444-4444-8444-000000000104";
const KENTE: &str = "44444444-4444-4444-8444-000000000201";

/// A client that keeps its access token and read-your-writes token, like a browser.
struct Client {
    edge: &'static str,
    access: Option<String>,
    consistency: Option<String>,
}

impl Client {
    fn anon(edge: &'static str) -> Self {
        Client {
            edge,
            access: None,
            consistency: None,
        }
    }

    fn login(edge: &'static str, email: &str) -> (Self, Value) {
        Client::login_with(edge, email, PASSWORD)
    }

    fn login_with(edge: &'static str, email: &str, password: &str) -> (Self, Value) {
        let mut client = Client::anon(edge);
        let reply = client.post(
            "/api/v1/auth/login",
            json!({"email": email, "password": password}),
            &[],
        );
        assert_eq!(reply.status, 200, "login {email}: {}", reply.body);
        let session = reply.json();
        client.access = Some(session["access_token"].as_str().unwrap().to_owned());
        (client, session)
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let bearer = self.access.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        if let Some(t) = &self.consistency {
            headers.push(("x-payhuk-consistency", t.as_str()));
        }
        let body = body.map(|b| b.to_string());
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let reply = via_edge(self.edge, method, path, &headers, body.as_deref());
        if let Some(t) = reply.header("x-payhuk-consistency") {
            self.consistency = Some(t.to_owned());
        }
        reply
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None, &[])
    }

    fn post(&mut self, path: &str, body: Value, extra: &[(&str, &str)]) -> Reply {
        self.send("POST", path, Some(body), extra)
    }
}

/// `POST /api/v1/orders` as a user, from any thread.
fn post_order(edge: &str, access_token: &str, key: &str, body: &str) -> Reply {
    let bearer = format!("Bearer {access_token}");
    via_edge(
        edge,
        "POST",
        "/api/v1/orders",
        &[
            ("authorization", bearer.as_str()),
            ("idempotency-key", key),
            ("content-type", "application/json"),
        ],
        Some(body),
    )
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[test]
fn signup_login_me_refresh_rotation_reuse_and_logout() {
    let _stack = stack();
    let email = format!("{}@payhuk.test", unique("new"));
    let slug = unique("shop").to_lowercase();
    let mut client = Client::anon("fra1");
    let signup = client.post(
        "/api/v1/auth/signup",
        json!({"email": email, "password": "a good long password", "display_name": "New Merchant",
               "store": {"name": "New Shop", "slug": slug, "default_currency": "XOF"}}),
        &[],
    );
    assert_eq!(signup.status, 201, "{}", signup.body);
    let session = signup.json();
    assert_eq!(session["user"]["email"], email.as_str());
    assert_eq!(session["user"]["stores"][0]["slug"], slug.as_str());
    client.access = Some(session["access_token"].as_str().unwrap().to_owned());

    // Right away, from the edge whose replica may lag: the token makes it consistent.
    let me = client.get("/api/v1/auth/me");
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["email"], email.as_str());

    // The same email again is a conflict; a wrong password is 401.
    let again = Client::anon("fra1").post(
        "/api/v1/auth/signup",
        json!({"email": email, "password": "another long one"}),
        &[],
    );
    assert_eq!(
        (again.status, again.json()["hint"].as_str()),
        (409, Some("email_taken"))
    );
    let wrong = Client::anon("sfo1").post(
        "/api/v1/auth/login",
        json!({"email": email, "password": "not the password"}),
        &[],
    );
    assert_eq!(
        (wrong.status, wrong.json()["code"].as_str()),
        (401, Some("PHK440"))
    );

    // Login from another edge: one upstream call, on the primary (a login writes).
    let mut other = Client::anon("sfo1");
    let login = other.post(
        "/api/v1/auth/login",
        json!({"email": email, "password": "a good long password"}),
        &[],
    );
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(
        (login.upstream(), login.header("x-payhuk-upstream-calls")),
        ("primary:iad1", Some("1"))
    );
    let first = login.json()["refresh_token"].as_str().unwrap().to_owned();

    // Rotation: the first token gives a second; the first is now used up.
    let rotated = other.post("/api/v1/auth/refresh", json!({"refresh_token": first}), &[]);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    // Reuse of the first: refused, and the whole family (the second too) revoked.
    let reused = other.post("/api/v1/auth/refresh", json!({"refresh_token": first}), &[]);
    assert_eq!(
        (reused.status, reused.json()["hint"].as_str()),
        (401, Some("refresh_token_reused"))
    );
    let after_reuse = other.post(
        "/api/v1/auth/refresh",
        json!({"refresh_token": second}),
        &[],
    );
    assert_eq!(
        (after_reuse.status, after_reuse.json()["hint"].as_str()),
        (401, Some("refresh_token_invalid"))
    );

    // Logout revokes the session's tokens.
    let (mut third, session) = Client::login_with("iad1", &email, "a good long password");
    let refresh = session["refresh_token"].as_str().unwrap();
    let out = third.post(
        "/api/v1/auth/logout",
        json!({"refresh_token": refresh}),
        &[],
    );
    assert_eq!(out.status, 204, "{}", out.body);
    let after_logout = third.post(
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh}),
        &[],
    );
    assert_eq!(after_logout.status, 401);
}

#[test]
fn a_password_is_counted_in_characters_and_never_cut_at_bcrypt_s_72_bytes() {
    let _stack = stack();
    // 72 characters, 144 bytes in UTF-8: twice what bcrypt reads.
    let password = "é".repeat(72);
    let email = format!("{}@payhuk.test", unique("wide"));
    let signup = Client::anon("iad1").post(
        "/api/v1/auth/signup",
        json!({"email": email, "password": password}),
        &[],
    );
    assert_eq!(signup.status, 201, "{}", signup.body);
    let login = |password: &str| {
        Client::anon("iad1").post(
            "/api/v1/auth/login",
            json!({"email": email, "password": password}),
            &[],
        )
    };
    assert_eq!(login(&password).status, 200);
    // What bcrypt alone would have compared: the first 72 bytes, 36 characters.
    let cut = login(&"é".repeat(36));
    assert_eq!(
        (cut.status, cut.json()["code"].as_str()),
        (401, Some("PHK440"))
    );
    let over = Client::anon("iad1").post(
        "/api/v1/auth/signup",
        json!({"email": format!("{}@payhuk.test", unique("over")), "password": "é".repeat(73)}),
        &[],
    );
    assert_eq!(over.status, 422, "{}", over.body);
}

#[test]
fn repeated_failed_logins_lock_out_then_release() {
    let _stack = stack();
    let mut client = Client::anon("fra1");
    let wrong = json!({"email": JEAN, "password": "wrong password!"});
    for _ in 0..5 {
        let reply = client.post("/api/v1/auth/login", wrong.clone(), &[]);
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    // Even the right password waits now.
    let locked = client.post(
        "/api/v1/auth/login",
        json!({"email": JEAN, "password": PASSWORD}),
        &[],
    );
    assert_eq!(locked.status, 429, "{}", locked.body);
    let wait: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=xtask::topology::LOCAL_LOGIN_FAILURE_WINDOW_SECONDS as u64).contains(&wait),
        "{wait}"
    );
    eventually("the lockout to release", Duration::from_secs(15), || {
        let reply = client.post(
            "/api/v1/auth/login",
            json!({"email": JEAN, "password": PASSWORD}),
            &[],
        );
        (reply.status == 200).then_some(())
    });
}

/// Behind the storefront's Vercel rewrite every customer arrives from Vercel's egress:
/// with that egress configured as a trusted proxy, the per-client lockout keys on the
/// address it forwards, so an attacker behind the same egress locks out only themself,
/// and a client that is not a trusted proxy cannot choose its bucket with a forged
/// forwarded header.
#[test]
fn the_lockout_keys_on_the_forwarded_client_only_behind_a_trusted_proxy() {
    let stack = stack();
    const VERCEL_EGRESS: &str = "76.76.21.21";
    const ATTACKER: &str = "203.0.113.7";
    const CUSTOMER: &str = "198.51.100.9";
    let _gateway = PlainWorkerd::start(
        &stack,
        &[
            ("TRUSTED_PROXIES", "76.76.21.0/24"),
            ("LOGIN_MAX_FAILURES_PER_CLIENT", "3"),
        ],
    );
    let base = format!("http://127.0.0.1:{}", xtask::workerd::PORT);
    let unique = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let email = format!("lockout-{unique}@payhuk.test");
    let password = "the right password, long enough";
    let login = |email: &str, password: &str, headers: &[(&str, &str)]| {
        let mut headers = headers.to_vec();
        headers.push(("content-type", "application/json"));
        request(
            "POST",
            &format!("{base}/api/v1/auth/login"),
            &headers,
            Some(&json!({"email": email, "password": password}).to_string()),
        )
    };
    let signup = request(
        "POST",
        &format!("{base}/api/v1/auth/signup"),
        &[("content-type", "application/json")],
        Some(&json!({"email": email, "password": password, "display_name": "Lockout"}).to_string()),
    );
    assert_eq!(signup.status, 201, "{}", signup.body);

    let via_vercel = |client: &'static str| {
        [
            ("cf-connecting-ip", VERCEL_EGRESS),
            ("x-forwarded-for", client),
        ]
    };
    // The attacker guesses at three other accounts: their own address is spent.
    for n in 0..3 {
        let guessed = format!("someone-{n}-{unique}@payhuk.test");
        let reply = login(&guessed, "wrong password!", &via_vercel(ATTACKER));
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    let attacker = login(&email, password, &via_vercel(ATTACKER));
    assert_eq!(
        attacker.status, 429,
        "the attacker waits: {}",
        attacker.body
    );
    let customer = login(&email, password, &via_vercel(CUSTOMER));
    assert_eq!(
        customer.status, 200,
        "a customer behind the same egress: {}",
        customer.body
    );
    // Straight from the attacker's address, a forwarded header names someone else: ignored.
    let forged = login(
        &email,
        password,
        &[
            ("cf-connecting-ip", ATTACKER),
            ("x-forwarded-for", CUSTOMER),
        ],
    );
    assert_eq!(forged.status, 429, "{}", forged.body);
}

#[test]
fn the_anon_key_reads_the_catalogue_from_the_same_cache_as_no_key() {
    let _stack = stack();
    let anon_key = xtask::topology::anon_key();
    let bearer = format!("Bearer {anon_key}");
    // A listing no other test asks for, so the first answer is computed here.
    let path = format!("/api/v1/products?limit=7&store={AWA_STORE}");
    let read = |headers: &[(&str, &str)]| {
        let reply = via_edge("sfo1", "GET", &path, headers, None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply
    };
    let first = read(&[("apikey", &anon_key)]);
    assert_ne!(first.header("x-payhuk-cache"), Some("bypass"));
    // supabase-js sends the anon key as apikey and as the bearer.
    let supabase_js = read(&[("apikey", &anon_key), ("authorization", &bearer)]);
    assert_eq!(supabase_js.header("x-payhuk-cache"), Some("hit"));
    assert_eq!(supabase_js.body, first.body);
    // A hit costs no upstream call and still names the node that computed it.
    assert_eq!(supabase_js.header("x-payhuk-upstream-calls"), Some("0"));
    assert_eq!(supabase_js.upstream(), first.upstream());
    let keyless = read(&[]);
    assert_eq!(keyless.header("x-payhuk-cache"), Some("hit"));

    // A signed-in user still reads through (their rows differ).
    let user = user_token("22222222-2222-4222-8222-000000000001");
    let signed_in = read(&[
        ("apikey", &anon_key),
        ("authorization", &format!("Bearer {user}")),
    ]);
    assert_eq!(signed_in.header("x-payhuk-cache"), Some("bypass"));
}

#[test]
fn concurrent_misses_of_one_listing_go_upstream_once() {
    let _stack = stack();
    let anon_key = xtask::topology::anon_key();
    // A search no run has asked for before, so neither cache tier holds it.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = format!("/api/v1/products?q=coalesced{nonce}");
    let labels = concurrently(24, move |_| {
        let reply = via_edge("sfo1", "GET", &path, &[("apikey", &anon_key)], None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.header("x-payhuk-cache").unwrap_or("none").to_owned()
    });
    let misses = labels.iter().filter(|l| *l == "miss").count();
    let hits = labels.iter().filter(|l| *l == "hit").count();
    assert_eq!((misses, hits), (1, 23), "{labels:?}");
}

#[test]
fn catalogue_visibility_cache_and_merchant_writes() {
    let _stack = stack();
    let mut anon = Client::anon("fra1");
    let page = anon.get(&format!("/api/v1/products?store={AWA_STORE}&limit=100"));
    assert_eq!(page.status, 200, "{}", page.body);
    let items = page.json()["items"].as_array().unwrap().clone();
    assert!(
        !items.is_empty() && items.iter().all(|p| p["published"] == true),
        "anon sees published only"
    );
    assert_eq!(
        anon.get(&format!("/api/v1/products/{AWA_DRAFT}")).status,
        404
    );

    // Cached at the edge for anonymous readers.
    let path = format!("/api/v1/products/{KENTE}");
    let first = anon.get(&path);
    assert!(["miss", "hit", "stale"].contains(&first.header("x-payhuk-cache").unwrap()));
    let second = anon.get(&path);
    assert_eq!(second.header("x-payhuk-cache"), Some("hit"));
    assert_eq!(second.json()["id"], KENTE);

    // The owner sees the draft; another merchant can neither see nor touch it.
    let (mut awa, _) = Client::login("fra1", AWA);
    assert_eq!(
        awa.get(&format!("/api/v1/products/{AWA_DRAFT}")).status,
        200
    );
    let (mut kofi, _) = Client::login("fra1", KOFI);
    assert_eq!(
        kofi.get(&format!("/api/v1/products/{AWA_DRAFT}")).status,
        404
    );
    let hijack = kofi.send(
        "PATCH",
        &format!("/api/v1/products/{AWA_DRAFT}"),
        Some(json!({"published": true})),
        &[],
    );
    assert_eq!(hijack.status, 404);
    let smuggle = kofi.post(
        "/api/v1/products",
        json!({"store_id": AWA_STORE, "kind": "digital", "name": "Not mine", "price_minor": 1, "currency": "XOF"}),
        &[],
    );
    assert_eq!(
        (smuggle.status, smuggle.json()["hint"].as_str()),
        (403, Some("not_store_owner"))
    );

    // A merchant's own update is what they read next, cache or not.
    let price = 4500 + (std::process::id() % 100) as i64;
    let updated = kofi.send("PATCH", &path, Some(json!({"price_minor": price})), &[]);
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.header("x-payhuk-upstream"), Some("primary:iad1"));
    let read_back = kofi.get(&path);
    assert_eq!(read_back.header("x-payhuk-cache"), Some("bypass"));
    assert_eq!(read_back.json()["price_minor"], price);
    // The seeded price again: the browser test shows it, and it may run after this one.
    let restored = kofi.send("PATCH", &path, Some(json!({"price_minor": 4500})), &[]);
    assert_eq!(restored.status, 200, "{}", restored.body);

    // Creating and deleting in his own store.
    let created = kofi.post(
        "/api/v1/products",
        json!({"store_id": KOFI_STORE, "kind": "physical", "name": "Drum", "price_minor": 9000, "currency": "EUR",
               "stock": 2, "weight_grams": 2500, "published": false}),
        &[],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        kofi.send("DELETE", &format!("/api/v1/products/{id}"), None, &[])
            .status,
        204
    );
    assert_eq!(kofi.get(&format!("/api/v1/products/{id}")).status, 404);

    // Bad input names the field.
    let bad = kofi.post("/api/v1/products", json!({"store_id": KOFI_STORE, "kind": "gadget", "name": "", "price_minor": -1, "currency": "EUR"}), &[]);
    assert_eq!(bad.status, 422);
    let fields: Vec<String> =
        serde_json::from_str::<Value>(bad.json()["details"].as_str().unwrap())
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(fields, ["kind", "name", "price_minor"]);
}

#[test]
fn cursor_pages_cover_the_catalogue_once() {
    let _stack = stack();
    let mut anon = Client::anon("sfo1");
    let mut seen = Vec::new();
    let mut path = "/api/v1/products?limit=3".to_owned();
    loop {
        let page = anon.get(&path).json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/products?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no product twice");
    assert!(seen.len() >= 9, "{seen:?}");
}

#[test]
fn orders_are_idempotent_private_and_read_back_through_a_paused_replica() {
    let stack = stack();
    let (mut aminata, _) = Client::login("fra1", AMINATA);
    let key = unique("order");
    let items =
        json!({"items": [{"product_id": "44444444-4444-4444-8444-000000000101", "quantity": 1}]});

    // Twenty concurrent tries with one key: one order.
    let token = aminata.access.clone().unwrap();
    let body = items.to_string();
    let replies = concurrently(20, {
        let key = key.clone();
        move |_| post_order("fra1", &token, &key, &body)
    });
    let ids: Vec<String> = replies
        .iter()
        .map(|r| {
            r.json()["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{}", r.body))
                .to_owned()
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one order for one key: {ids:?}"
    );
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 19);
    let in_db = stack
        .sql(
            "iad1",
            &format!("select count(*) from public.orders where id = '{}'", ids[0]),
        )
        .unwrap();
    assert_eq!(in_db, "1");
    // The same key with other lines is a conflict.
    let other = aminata.post(
        "/api/v1/orders",
        json!({"items": [{"product_id": "44444444-4444-4444-8444-000000000101", "quantity": 2}]}),
        &[("idempotency-key", key.as_str())],
    );
    assert_eq!(
        (other.status, other.json()["hint"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    // No key, bad lines: 422 naming them.
    let no_key = aminata.post("/api/v1/orders", items.clone(), &[]);
    assert_eq!(no_key.status, 422);
    let bad = aminata.post(
        "/api/v1/orders",
        json!({"items": [{"product_id": "x", "quantity": 0, "price": 1}]}),
        &[("idempotency-key", "k")],
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.json()["details"]
            .as_str()
            .unwrap()
            .contains("items[0].quantity")
    );

    // Another customer cannot see it; a merchant of another store cannot list Awa's orders.
    let (mut jean, _) = Client::login("sfo1", JEAN);
    assert_eq!(jean.get(&format!("/api/v1/orders/{}", ids[0])).status, 404);
    let (mut kofi, _) = Client::login("sfo1", KOFI);
    assert_eq!(
        kofi.get(&format!("/api/v1/stores/{AWA_STORE}/orders"))
            .status,
        404
    );
    let (mut awa, _) = Client::login("sfo1", AWA);
    let store_orders = awa.get(&format!("/api/v1/stores/{AWA_STORE}/orders?limit=100"));
    assert_eq!(store_orders.status, 200);
    assert!(
        store_orders.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["store_id"] == AWA_STORE)
    );
    // Two pages of two, through the cursor, are the first four, each in one upstream call.
    let ids_of = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let four = awa.get(&format!("/api/v1/stores/{AWA_STORE}/orders?limit=4"));
    let first = awa.get(&format!("/api/v1/stores/{AWA_STORE}/orders?limit=2"));
    assert_eq!(first.header("x-payhuk-upstream-calls"), Some("1"));
    let cursor = first.json()["next_cursor"].as_str().unwrap().to_owned();
    let second = awa.get(&format!(
        "/api/v1/stores/{AWA_STORE}/orders?limit=2&cursor={cursor}"
    ));
    assert_eq!(second.status, 200, "{}", second.body);
    let paged: Vec<String> = [ids_of(&first.json()), ids_of(&second.json())].concat();
    assert_eq!(paged, ids_of(&four.json()));

    // Read-your-writes: with fra1 paused, an order placed from fra1 is in the next list.
    caught_up(&stack, "fra1");
    let _paused = ReplayPaused::new(&stack, "fra1");
    let placed = aminata.post(
        "/api/v1/orders",
        items,
        &[("idempotency-key", unique("ryw").as_str())],
    );
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.json()["id"].as_str().unwrap().to_owned();
    let mine = aminata.get("/api/v1/orders?limit=5");
    assert_eq!(mine.status, 200);
    assert_ne!(mine.header("x-payhuk-upstream"), Some("replica:fra1"));
    assert_eq!(
        mine.json()["items"][0]["id"],
        order_id.as_str(),
        "newest first, and there"
    );
}

#[test]
fn concurrent_orders_for_the_last_units_never_oversell() {
    let stack = stack();
    let product = stack
        .sql(
            "iad1",
            "insert into public.products (store_id, kind, name, price_minor, currency, stock, weight_grams, published) \
             values ('33333333-3333-4333-8333-000000000002', 'physical', 'Last three', 1000, 'EUR', 3, 10, true) returning id",
        )
        .unwrap();
    let (customer, _) = Client::login("iad1", "fatou@payhuk.test");
    let token = customer.access.clone().unwrap();
    let body = json!({"items": [{"product_id": product, "quantity": 1}]}).to_string();
    let replies = concurrently(12, move |i| {
        post_order(
            "sfo1",
            &token,
            &format!("last-units-{i}-{}", std::process::id()),
            &body,
        )
    });
    assert_eq!(
        replies.iter().filter(|r| r.status == 201).count(),
        3,
        "{replies:#?}"
    );
    for refused in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(
            (refused.status, refused.json()["hint"].as_str()),
            (409, Some("insufficient_stock"))
        );
    }
    assert_eq!(
        stack
            .sql(
                "iad1",
                &format!("select stock from public.products where id = '{product}'")
            )
            .unwrap(),
        "0"
    );
}
