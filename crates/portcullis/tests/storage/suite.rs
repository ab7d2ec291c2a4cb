//! The behaviour every driver shares, as async functions over `Arc<dyn TokenStorage>`.
//! `storage.rs` runs each of them once per driver.

use std::sync::Arc;
use std::time::Duration;

use portcullis::storage::{FamilyState, Probe, Standing, StoredToken, TokenStorage, ALL_SUBJECTS};

use super::backends::Backend;

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A far expiry: an hour from now.
pub fn later() -> i64 {
    now() + 3_600
}

pub fn token(jti: &str, subject: &str, expires_at: i64) -> StoredToken {
    StoredToken {
        jti: jti.to_owned(),
        token: format!("header.{jti}.signature"),
        subject: subject.to_owned(),
        issued_at: now() - 5,
        expires_at,
    }
}

pub fn family(id: &str, subject: &str, expires_at: i64) -> FamilyState {
    FamilyState::new(id, subject, "r1", "refresh-r1", now(), expires_at)
}

/// What `check` must answer, from the individual calls.
async fn expected(storage: &dyn TokenStorage, probe: Probe<'_>) -> Standing {
    let own = storage.revoked_before(probe.subject).await.unwrap();
    let all = storage.revoked_before(ALL_SUBJECTS).await.unwrap();
    Standing {
        recorded: storage.exists(probe.jti).await.unwrap(),
        revoked_before: own.max(all),
        family_revoked: match probe.family {
            Some(f) => storage.family(f).await.unwrap().is_some_and(|f| f.revoked),
            None => false,
        },
    }
}

pub async fn records_round_trip(backend: &Backend) {
    let storage = backend.open().await;
    storage.ping().await.unwrap();
    let record = token("j1", "user-1", later());
    storage.set(record.clone()).await.unwrap();
    assert!(storage.exists("j1").await.unwrap());
    assert_eq!(storage.get("j1").await.unwrap(), Some(record.clone()));
    assert!(!storage.exists("j2").await.unwrap());
    assert_eq!(storage.get("j2").await.unwrap(), None);

    // Replacing a record keeps one record, with the new values.
    let mut replaced = token("j1", "user-2", later() + 60);
    replaced.token = "another.token.value".into();
    storage.set(replaced.clone()).await.unwrap();
    assert_eq!(storage.get("j1").await.unwrap(), Some(replaced));
    assert_eq!(storage.size().await.unwrap(), 1);

    assert!(storage.clear("j1").await.unwrap());
    assert!(!storage.clear("j1").await.unwrap(), "already gone");
    assert!(!storage.exists("j1").await.unwrap());
    assert_eq!(storage.get("j1").await.unwrap(), None);
}

pub async fn odd_values_are_data(backend: &Backend) {
    let storage = backend.open().await;
    let odd = [
        "epoch:user-1",
        "family:f1",
        "~tilde",
        "quote'); DROP TABLE x; --",
        "ünïcødé ✓",
        "*",
        "spaces and\nnewline",
    ];
    for jti in odd {
        storage.set(token(jti, jti, later())).await.unwrap();
    }
    for jti in odd {
        let got = storage.get(jti).await.unwrap().expect(jti);
        assert_eq!(got.subject, jti);
    }
    let mut sorted: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    assert_eq!(storage.keys().await.unwrap(), sorted);
    // A jti that looks like an epoch or family key does not become one.
    assert_eq!(storage.revoked_before("user-1").await.unwrap(), None);
    assert_eq!(storage.family("f1").await.unwrap(), None);
    storage
        .revoke_before("quote'); DROP TABLE x; --", 10, later())
        .await
        .unwrap();
    assert_eq!(
        storage
            .revoked_before("quote'); DROP TABLE x; --")
            .await
            .unwrap(),
        Some(10)
    );
    assert_eq!(storage.size().await.unwrap(), odd.len() as u64);
}

pub async fn everything_expires_at_its_time(backend: &Backend) {
    let storage = backend.open().await;
    let soon = now() + 2;
    storage.set(token("short", "s", soon)).await.unwrap();
    storage.set(token("long", "s", later())).await.unwrap();
    storage.set(token("dead", "s", now() - 10)).await.unwrap();
    storage.revoke_before("s", now(), soon).await.unwrap();
    storage.revoke_before("t", now(), later()).await.unwrap();
    assert!(storage
        .swap_family(None, &family("short-family", "s", soon))
        .await
        .unwrap());
    assert!(storage
        .swap_family(None, &family("long-family", "s", later()))
        .await
        .unwrap());

    // Already expired when written: never visible.
    assert!(!storage.exists("dead").await.unwrap());
    assert_eq!(storage.get("dead").await.unwrap(), None);
    assert_eq!(storage.keys().await.unwrap(), ["long", "short"]);

    // A live record replaced by an expired one is gone.
    storage.set(token("replaced", "s", later())).await.unwrap();
    storage
        .set(token("replaced", "s", now() - 1))
        .await
        .unwrap();
    assert!(!storage.exists("replaced").await.unwrap());

    tokio::time::sleep(Duration::from_millis(
        u64::try_from(soon - now()).unwrap_or(0) * 1_000 + 1_100,
    ))
    .await;

    assert!(!storage.exists("short").await.unwrap());
    assert_eq!(storage.get("short").await.unwrap(), None);
    assert!(
        !storage.clear("short").await.unwrap(),
        "an expired record is not counted"
    );
    assert!(storage.exists("long").await.unwrap());
    assert_eq!(storage.keys().await.unwrap(), ["long"]);
    assert_eq!(storage.size().await.unwrap(), 1);
    assert_eq!(storage.revoked_before("s").await.unwrap(), None);
    assert!(storage.revoked_before("t").await.unwrap().is_some());
    assert_eq!(storage.family("short-family").await.unwrap(), None);
    assert!(storage.family("long-family").await.unwrap().is_some());

    // An expired family can be created anew.
    assert!(storage
        .swap_family(None, &family("short-family", "s", later()))
        .await
        .unwrap());
    // An expired epoch is replaced, even by an earlier one.
    storage.revoke_before("s", 5, later()).await.unwrap();
    assert_eq!(storage.revoked_before("s").await.unwrap(), Some(5));
}

pub async fn clear_all_removes_only_this_storages_tokens(backend: &Backend) {
    let storage = backend.open().await;
    let sibling = backend.open_sibling().await;
    for jti in ["a", "b", "c"] {
        storage.set(token(jti, "s", later())).await.unwrap();
    }
    storage.set(token("expired", "s", now() - 5)).await.unwrap();
    for jti in ["a", "x"] {
        sibling.set(token(jti, "s", later())).await.unwrap();
    }
    storage.revoke_before("s", 100, later()).await.unwrap();
    assert!(storage
        .swap_family(None, &family("f", "s", later()))
        .await
        .unwrap());

    assert_eq!(storage.clear_all().await.unwrap(), 3);
    assert_eq!(storage.size().await.unwrap(), 0);
    assert!(storage.keys().await.unwrap().is_empty());
    assert!(!storage.exists("a").await.unwrap());
    // Another storage on the same backend keeps its tokens.
    assert_eq!(sibling.keys().await.unwrap(), ["a", "x"]);
    // Epochs and families are not token records: they stay.
    assert_eq!(storage.revoked_before("s").await.unwrap(), Some(100));
    assert!(storage.family("f").await.unwrap().is_some());
    assert_eq!(storage.clear_all().await.unwrap(), 0);
}

pub async fn keys_are_sorted_and_counted(backend: &Backend) {
    let storage = backend.open().await;
    assert_eq!(storage.size().await.unwrap(), 0);
    assert!(storage.keys().await.unwrap().is_empty());
    let jtis: Vec<String> = (0..120).rev().map(|i| format!("jti-{i:03}")).collect();
    for jti in &jtis {
        storage.set(token(jti, "s", later())).await.unwrap();
    }
    storage.set(token("B", "s", later())).await.unwrap();
    storage.set(token("a", "s", later())).await.unwrap();
    let mut expected = jtis.clone();
    expected.push("B".into());
    expected.push("a".into());
    expected.sort();
    assert_eq!(
        expected.first().map(String::as_str),
        Some("B"),
        "byte order"
    );
    assert_eq!(storage.keys().await.unwrap(), expected);
    assert_eq!(storage.size().await.unwrap(), 122);
}

pub async fn epochs_only_move_forward(backend: &Backend) {
    let storage = backend.open().await;
    assert_eq!(storage.revoked_before("u").await.unwrap(), None);
    storage.revoke_before("u", 1_000, later()).await.unwrap();
    assert_eq!(storage.revoked_before("u").await.unwrap(), Some(1_000));
    storage.revoke_before("u", 500, later()).await.unwrap();
    assert_eq!(
        storage.revoked_before("u").await.unwrap(),
        Some(1_000),
        "never back"
    );
    storage.revoke_before("u", 2_000, now() + 5).await.unwrap();
    assert_eq!(storage.revoked_before("u").await.unwrap(), Some(2_000));
    assert_eq!(storage.revoked_before("v").await.unwrap(), None);
    assert_eq!(storage.revoked_before(ALL_SUBJECTS).await.unwrap(), None);
    storage
        .revoke_before(ALL_SUBJECTS, 1_500, later())
        .await
        .unwrap();
    assert_eq!(
        storage.revoked_before(ALL_SUBJECTS).await.unwrap(),
        Some(1_500)
    );
    assert_eq!(storage.revoked_before("v").await.unwrap(), None);
}

pub async fn check_agrees_with_the_individual_calls(backend: &Backend) {
    let storage = backend.open().await;
    storage.set(token("rec", "alice", later())).await.unwrap();
    storage
        .set(token("gone", "alice", now() - 1))
        .await
        .unwrap();
    storage
        .revoke_before("alice", 1_000, later())
        .await
        .unwrap();
    storage.revoke_before("bob", 3_000, later()).await.unwrap();
    let live = family("live", "alice", later());
    assert!(storage.swap_family(None, &live).await.unwrap());
    let mut revoked = family("revoked", "alice", later());
    revoked.revoke();
    assert!(storage.swap_family(None, &revoked).await.unwrap());

    let probes = [
        ("rec", "alice", None),
        ("gone", "alice", None),
        ("none", "carol", None),
        ("rec", "bob", Some("live")),
        ("rec", "alice", Some("revoked")),
        ("rec", "alice", Some("missing")),
        ("rec", ALL_SUBJECTS, None),
    ];
    let check_all = |label: &'static str| {
        let storage = Arc::clone(&storage);
        async move {
            for (jti, subject, family) in probes {
                let probe = Probe {
                    jti,
                    subject,
                    family,
                };
                let got = storage.check(probe).await.unwrap();
                let want = expected(storage.as_ref(), probe).await;
                assert_eq!(got, want, "{label}: {probe:?}");
            }
        }
    };
    check_all("subject epochs only").await;
    let got = storage
        .check(Probe {
            jti: "rec",
            subject: "alice",
            family: Some("revoked"),
        })
        .await
        .unwrap();
    assert_eq!(
        got,
        Standing {
            recorded: true,
            revoked_before: Some(1_000),
            family_revoked: true
        }
    );

    storage
        .revoke_before(ALL_SUBJECTS, 2_000, later())
        .await
        .unwrap();
    check_all("with an all-subjects epoch").await;
    let got = storage
        .check(Probe {
            jti: "none",
            subject: "alice",
            family: Some("live"),
        })
        .await
        .unwrap();
    assert_eq!(
        got,
        Standing {
            recorded: false,
            revoked_before: Some(2_000),
            family_revoked: false
        },
        "the later of the subject's and everyone's epoch"
    );
    let bob = storage
        .check(Probe {
            jti: "x",
            subject: "bob",
            family: None,
        })
        .await
        .unwrap();
    assert_eq!(bob.revoked_before, Some(3_000));
}

pub async fn families_change_by_compare_and_swap(backend: &Backend) {
    let storage = backend.open().await;
    let mut state = family("f", "alice", later());
    assert_eq!(storage.family("f").await.unwrap(), None);
    assert!(
        !storage.swap_family(Some(0), &state).await.unwrap(),
        "no family yet"
    );
    assert!(storage.swap_family(None, &state).await.unwrap());
    assert!(
        !storage.swap_family(None, &state).await.unwrap(),
        "exists already"
    );
    assert_eq!(storage.family("f").await.unwrap(), Some(state.clone()));

    let stored = state.clone();
    state.revoke();
    assert_eq!(state.version, 1);
    assert!(!storage.swap_family(Some(7), &state).await.unwrap());
    assert_eq!(storage.family("f").await.unwrap(), Some(stored));
    assert!(storage.swap_family(Some(0), &state).await.unwrap());
    assert!(
        !storage.swap_family(Some(0), &state).await.unwrap(),
        "stale version"
    );
    let read = storage.family("f").await.unwrap().unwrap();
    assert_eq!(read, state);
    assert!(read.revoked);
}

pub async fn concurrent_swaps_have_one_winner(backend: &Backend) {
    let storage = backend.open().await;
    const RACERS: usize = 8;

    // Creation: exactly one of the racers creates the family.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let storage = Arc::clone(&storage);
        tasks.spawn(async move {
            let mut state = family("race", "alice", later());
            state.current_jti = format!("creator-{i}");
            let won = storage.swap_family(None, &state).await.unwrap();
            (won, state.current_jti)
        });
    }
    let winners = collect_winners(&mut tasks).await;
    assert_eq!(winners.len(), 1, "creation: {winners:?}");
    let stored = storage.family("race").await.unwrap().unwrap();
    assert_eq!(stored.current_jti, winners[0]);

    // Rotation, several rounds: each round, exactly one swap on the same version wins.
    for round in 0..5u64 {
        let base = storage.family("race").await.unwrap().unwrap();
        assert_eq!(base.version, round);
        for i in 0..RACERS {
            let storage = Arc::clone(&storage);
            let mut next = base.clone();
            tasks.spawn(async move {
                next.current_jti = format!("round-{round}-racer-{i}");
                next.version += 1;
                let won = storage.swap_family(Some(round), &next).await.unwrap();
                (won, next.current_jti)
            });
        }
        let winners = collect_winners(&mut tasks).await;
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let stored = storage.family("race").await.unwrap().unwrap();
        assert_eq!(stored.current_jti, winners[0]);
        assert_eq!(stored.version, round + 1);
    }
}

async fn collect_winners(tasks: &mut tokio::task::JoinSet<(bool, String)>) -> Vec<String> {
    let mut winners = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (won, jti) = done.expect("the task ran");
        if won {
            winners.push(jti);
        }
    }
    winners
}

pub async fn sweep_removes_what_expired(backend: &Backend) {
    let storage = backend.open().await;
    let past = now() - 30;
    for i in 0..3 {
        storage
            .set(token(&format!("old-{i}"), "s", past))
            .await
            .unwrap();
    }
    storage.set(token("live", "s", later())).await.unwrap();
    storage.revoke_before("s", past - 10, past).await.unwrap();
    storage.revoke_before("t", 5, later()).await.unwrap();
    assert!(storage
        .swap_family(None, &family("old", "s", past))
        .await
        .unwrap());
    assert!(storage
        .swap_family(None, &family("new", "s", later()))
        .await
        .unwrap());

    let removed = storage.sweep(now()).await.unwrap();
    if backend.keeps_expired_rows() {
        assert_eq!(removed, 5, "3 records, 1 epoch, 1 family");
    } else {
        assert_eq!(removed, 0, "the backend expires entries itself");
    }
    assert_eq!(
        storage.sweep(now()).await.unwrap(),
        0,
        "nothing left to sweep"
    );
    assert_eq!(storage.keys().await.unwrap(), ["live"]);
    assert_eq!(storage.revoked_before("t").await.unwrap(), Some(5));
    assert!(storage.family("new").await.unwrap().is_some());
    assert!(storage.family("old").await.unwrap().is_none());
}
