//! What token storage adds to a request: one `TokenStorage::check` per driver, next to the
//! cost of verifying the JWT itself, in the same run.
//!
//! Run with `scripts/bench-storage.sh` (it starts private Redis and PostgreSQL servers and
//! passes their URLs); `cargo bench -p portcullis --features full --bench storage` alone
//! measures memory and SQLite and skips a server whose URL variable
//! (`PORTCULLIS_TEST_REDIS_URL`, `PORTCULLIS_TEST_POSTGRES_URL`) is not set.
//!
//! # What is measured
//!
//! * `jwt_verify_hs256`: [`JwtVerifier::verify`] of one realistic HS256 access token (`iss`,
//!   `iat`, `sub`, `exp`, `jti`, five scopes, two custom claims): signature and every claim
//!   check — the work every request does anyway.
//! * `check/<driver>`: one [`TokenStorage::check`] for a recorded token of a subject with a
//!   revocation epoch and a refresh family — the one storage call a request makes — on a
//!   storage holding 2 000 records, 200 epochs and 200 families. Memory answers in process;
//!   SQLite from a WAL file in a temporary directory; PostgreSQL and Redis over loopback TCP,
//!   one round trip each.
//!
//! Each `check` is awaited on a multi-threaded tokio runtime (two workers, as a server on this
//! two-core machine would run), one at a time: this is the latency one request pays, not the
//! throughput of many concurrent ones.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::jwt::{Algorithm, JwtVerifier, SigningKey, TokenBuilder, Validation};
use portcullis::storage::{FamilyState, Probe, StoredToken, TokenStorage};
use tokio::runtime::Runtime;

const RECORDS: usize = 2_000;
const SUBJECTS: usize = 200;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Fills `storage` so that lookups go through real indexes, not an empty table.
async fn fill(storage: &dyn TokenStorage) {
    let until = now() + 24 * 3_600;
    for i in 0..RECORDS {
        storage
            .set(StoredToken {
                jti: format!("{i:032x}"),
                token: format!("eyJhbGciOiJIUzI1NiJ9.payload-{i}.signature"),
                subject: format!("user-{}", i % SUBJECTS),
                issued_at: now(),
                expires_at: until,
            })
            .await
            .expect("fill: set");
    }
    for s in 0..SUBJECTS {
        let subject = format!("user-{s}");
        storage
            .revoke_before(&subject, now() - 3_600, until)
            .await
            .expect("fill: epoch");
        let family = FamilyState::new(format!("fam-{s}"), &subject, "r", "t", now(), until);
        storage
            .swap_family(None, &family)
            .await
            .expect("fill: family");
    }
}

/// The drivers to measure, each filled; servers without a URL are skipped.
fn drivers(rt: &Runtime, dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn TokenStorage>)> {
    use portcullis::settings::SqlStorageProperties;
    use portcullis::storage::{MemoryStorage, RedisStorage, SqlStorage};

    let sql = |url: String| {
        let mut props = SqlStorageProperties::default();
        props.url = url.into();
        props.table = format!("bench_{}", std::process::id());
        props
    };
    let mut drivers: Vec<(&'static str, Arc<dyn TokenStorage>)> =
        vec![("memory", Arc::new(MemoryStorage::new()))];
    let sqlite = format!("sqlite://{}", dir.join("bench.db").display());
    let connected = rt.block_on(SqlStorage::connect(&sql(sqlite)));
    drivers.push(("sqlite", Arc::new(connected.expect("SQLite"))));
    match std::env::var("PORTCULLIS_TEST_POSTGRES_URL") {
        Ok(url) => {
            let connected = rt.block_on(SqlStorage::connect(&sql(url)));
            drivers.push(("postgres", Arc::new(connected.expect("PostgreSQL"))));
        }
        Err(_) => eprintln!("PORTCULLIS_TEST_POSTGRES_URL not set: PostgreSQL skipped"),
    }
    match std::env::var("PORTCULLIS_TEST_REDIS_URL") {
        Ok(url) => {
            let prefix = format!("bench{}_", std::process::id());
            let connected = rt.block_on(RedisStorage::connect(&url, &prefix));
            drivers.push(("redis", Arc::new(connected.expect("Redis"))));
        }
        Err(_) => eprintln!("PORTCULLIS_TEST_REDIS_URL not set: Redis skipped"),
    }
    for (name, storage) in &drivers {
        rt.block_on(async {
            fill(storage.as_ref()).await;
            let probe = probe();
            let standing = storage.check(probe).await.expect("check");
            assert!(
                standing.recorded && standing.revoked_before.is_some(),
                "{name}"
            );
        });
    }
    drivers
}

fn probe() -> Probe<'static> {
    // A recorded token of user-7 (record 7 belongs to user-7), in family fam-7.
    const JTI: &str = "00000000000000000000000000000007";
    Probe {
        jti: JTI,
        subject: "user-7",
        family: Some("fam-7"),
    }
}

fn per_request(c: &mut Criterion) {
    let key = SigningKey::from_secret(Algorithm::HS256, &[7; 32]).expect("key");
    let verifier = JwtVerifier::new(
        vec![key.verifying_key().expect("verifying key")],
        Validation::new("https://id.example.com"),
    )
    .expect("verifier");
    let token = TokenBuilder::new("https://id.example.com", "user-7")
        .expires_in(Duration::from_secs(3_600))
        .scope([
            "orders:read",
            "orders:write",
            "users:read",
            "billing:read",
            "reports:read",
        ])
        .claim("tenant", "acme")
        .claim("role", "admin")
        .sign(&key)
        .expect("token");
    verifier.verify(&token).expect("the token verifies");

    // A server's runtime: multi-threaded, here with one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let drivers = drivers(&rt, dir.path());

    let mut group = c.benchmark_group("per_request");
    group.bench_function("jwt_verify_hs256", |b| {
        b.iter(|| verifier.verify(black_box(&token)).expect("verify"))
    });
    for (name, storage) in &drivers {
        group.bench_function(format!("check/{name}"), |b| {
            b.to_async(&rt)
                .iter(|| async { storage.check(black_box(probe())).await.expect("check") })
        });
    }
    group.finish();

    // Leave the shared servers as found.
    rt.block_on(async {
        for (_, storage) in &drivers {
            let _ = storage.clear_all().await;
        }
    });
}

criterion_group!(benches, per_request);
criterion_main!(benches);
