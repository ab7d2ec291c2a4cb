//! What survives a restart, and what a driver answers when its backend is gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::storage::{Probe, TokenStorage};
use portcullis::Error;

use super::backends::Backend;
use super::suite::{family, later, token};

/// Records, epochs and families written by one storage are read back by the next one
/// opened on the same database (the first one dropped, its connections closed).
pub async fn restart_keeps_data(backend: &Backend) {
    {
        let storage = backend.open().await;
        storage.set(token("kept", "alice", later())).await.unwrap();
        storage
            .revoke_before("alice", 1_234, later())
            .await
            .unwrap();
        let mut state = family("fam", "alice", later());
        assert!(storage.swap_family(None, &state).await.unwrap());
        state.revoke();
        assert!(storage.swap_family(Some(0), &state).await.unwrap());
    }
    let storage = backend.open().await;
    assert_eq!(
        storage.get("kept").await.unwrap().map(|t| t.subject),
        Some("alice".into())
    );
    assert_eq!(storage.revoked_before("alice").await.unwrap(), Some(1_234));
    let state = storage.family("fam").await.unwrap().expect("family kept");
    assert!(state.revoked);
    assert_eq!(state.version, 1);
    let standing = storage
        .check(Probe {
            jti: "kept",
            subject: "alice",
            family: Some("fam"),
        })
        .await
        .unwrap();
    assert!(standing.recorded && standing.family_revoked);
    assert_eq!(standing.revoked_before, Some(1_234));
}

fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: portcullis::Result<T>) {
    match result {
        Err(Error::Unavailable {
            what: "token storage",
            reason,
        }) => {
            assert!(!reason.is_empty(), "{what}");
        }
        other => panic!("{what}: expected Error::Unavailable, got {other:?}"),
    }
}

/// Every method fails with `Error::Unavailable` — never a panic, never a guess — and within
/// a bounded time.
pub async fn every_call_is_unavailable(storage: &Arc<dyn TokenStorage>) {
    let started = Instant::now();
    let limit = Duration::from_secs(30);
    let probe = Probe {
        jti: "j",
        subject: "s",
        family: Some("f"),
    };
    let state = family("f", "s", later());
    macro_rules! call {
        ($what:literal, $call:expr) => {
            match tokio::time::timeout(limit, $call).await {
                Ok(result) => assert_unavailable($what, result),
                Err(_) => panic!("{} did not answer within {limit:?}", $what),
            }
        };
    }
    // Run side by side, so that timeouts do not add up.
    tokio::join!(
        async { call!("set", storage.set(token("j", "s", later()))) },
        async { call!("exists", storage.exists("j")) },
        async { call!("get", storage.get("j")) },
        async { call!("clear", storage.clear("j")) },
        async { call!("clear_all", storage.clear_all()) },
        async { call!("keys", storage.keys()) },
        async { call!("size", storage.size()) },
        async { call!("revoke_before", storage.revoke_before("s", 1, later())) },
        async { call!("revoked_before", storage.revoked_before("s")) },
        async { call!("family", storage.family("f")) },
        async { call!("swap_family", storage.swap_family(None, &state)) },
        async { call!("check", storage.check(probe)) },
        async { call!("ping", storage.ping()) },
    );
    eprintln!(
        "{}: unavailable within {:?}",
        storage.name(),
        started.elapsed()
    );
}

/// `sweep` too, for the drivers that do sweep.
pub async fn sweep_is_unavailable(storage: &Arc<dyn TokenStorage>) {
    assert_unavailable("sweep", storage.sweep(super::suite::now()).await);
}
