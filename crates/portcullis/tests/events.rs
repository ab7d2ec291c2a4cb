//! Event delivery: every JWT event reaches sync and async listeners with its data, and a
//! failing or hanging listener never reaches the request.

mod common;

use std::sync::{Arc, Mutex};

use common::users::{User, Users};
use portcullis::events::{EventBus, SecurityEvent};
use portcullis::jwt::JwtService;
use portcullis::settings::Settings;
use portcullis::storage::MemoryStorage;
use serde_json::Map;
use tokio::sync::mpsc;

async fn service(events: EventBus) -> (JwtService<User>, Users) {
    let settings = Settings::from_toml_str(
        "[jwt]\nissuer = 'https://id.test'\nalgorithm = 'HS256'\nenable_refresh_tokens = true\n\
         secret_key = 'a test secret that is long enough for HS256!!'",
    )
    .unwrap();
    let users = Users::sample();
    let jwt = JwtService::builder(settings.jwt, users.clone())
        .storage(Arc::new(MemoryStorage::new()))
        .events(events)
        .build()
        .await
        .unwrap();
    (jwt, users)
}

#[tokio::test]
async fn listeners_get_the_data_and_broken_ones_change_nothing() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let events = EventBus::new()
        .on(|_: &SecurityEvent| panic!("a broken sync listener"))
        .on(move |event: &SecurityEvent| {
            if let SecurityEvent::JwtCreation {
                claims,
                user,
                refresh,
                token,
            } = event
            {
                assert_eq!(claims.sub(), Some(user.id().as_str()));
                assert!(!token.as_str().is_empty());
                assert_eq!(format!("{token:?}"), "Jwt(<redacted>)");
                log.lock()
                    .unwrap()
                    .push(format!("creation refresh={refresh}"));
            } else {
                log.lock().unwrap().push(event.name().to_owned());
            }
        })
        .on_async(|_| async { panic!("a broken async listener") })
        .on_async(|_| std::future::pending::<()>()) // never finishes
        .on_async(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event.name());
            }
        });
    let (jwt, users) = service(events).await;
    let pair = jwt
        .from_user(&users.get("1"), Map::new(), Map::new())
        .await
        .unwrap();
    let claims = jwt.parse_token(&pair.access_token).await.unwrap();
    jwt.authenticate(&claims).await.unwrap();
    jwt.invalidate(&pair.access_token).await.unwrap();
    assert!(jwt.parse_token(&pair.access_token).await.is_err());

    let expected = [
        "creation refresh=false",
        "creation refresh=true",
        "jwt_valid_parsing",
        "jwt_valid_authentication",
        "jwt_invalidation",
        "jwt_storage_rejection",
    ];
    assert_eq!(*seen.lock().unwrap(), expected);
    let mut delivered = Vec::new();
    for _ in 0..expected.len() {
        delivered.push(rx.recv().await.unwrap());
    }
    assert_eq!(
        delivered,
        [
            "jwt_creation",
            "jwt_creation",
            "jwt_valid_parsing",
            "jwt_valid_authentication",
            "jwt_invalidation",
            "jwt_storage_rejection"
        ]
    );
}
