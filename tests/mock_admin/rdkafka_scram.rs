//! librdkafka as the independent admin client of the SCRAM credential APIs.
//!
//! The rdkafka crate (0.39) wraps none of the APIs hosted here, so this
//! calls librdkafka's C admin API (`rd_kafka_AlterUserScramCredentials`,
//! `rd_kafka_DescribeUserScramCredentials`, re-exported by rdkafka as
//! `rdkafka::bindings`). It is worth the `unsafe`: librdkafka derives the
//! SaltedPassword with its own PBKDF2 (OpenSSL), so kafkit logging in with
//! the password afterwards shows that the cluster stores what any client
//! sends, not only what kafkit's test helper computes.

use std::ffi::{CStr, CString};
use std::ptr;
use std::time::Duration;

use kafkit::ErrorCode;
use kafkit::mock::MockCluster;
use kafkit::sasl::{Credentials, Mechanism, Sasl};
use kafkit::{Client, SecurityProtocol};
use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

/// How long one librdkafka admin call may take.
const TIMEOUT_MS: i32 = 30_000;

/// A librdkafka admin client logged in as the cluster's SCRAM admin.
fn rd_admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "SCRAM-SHA-256")
        .set("sasl.username", "admin")
        .set("sasl.password", "admin-secret")
        .create()
        .unwrap()
}

/// The error code and text of a librdkafka per-item error (null: none).
///
/// # Safety
/// `e` is null or a valid `rd_kafka_error_t` owned by a live result.
unsafe fn item_error(e: *const rd::rd_kafka_error_t) -> (i32, String) {
    if e.is_null() {
        return (0, String::new());
    }
    unsafe {
        let text = rd::rd_kafka_error_string(e);
        let text = if text.is_null() {
            String::new()
        } else {
            CStr::from_ptr(text).to_string_lossy().into_owned()
        };
        (rd::rd_kafka_error_code(e) as i32, text)
    }
}

/// Runs one admin call on a fresh queue and waits for its result event;
/// `read` turns the event into a value before it is destroyed.
fn call<T>(
    admin: &AdminClient<DefaultClientContext>,
    op: rd::rd_kafka_admin_op_t,
    start: impl FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ),
    read: impl FnOnce(*mut rd::rd_kafka_event_t) -> T,
) -> T {
    let rk = admin.inner().native_ptr();
    // SAFETY: `rk` lives as long as `admin`; the queue, options and event
    // are created and destroyed here, and the event is read before it is
    // destroyed.
    unsafe {
        let queue = rd::rd_kafka_queue_new(rk);
        let options = rd::rd_kafka_AdminOptions_new(rk, op);
        start(rk, options, queue);
        let event = rd::rd_kafka_queue_poll(queue, TIMEOUT_MS);
        assert!(
            !event.is_null(),
            "librdkafka: no result within {TIMEOUT_MS} ms"
        );
        let top = rd::rd_kafka_event_error(event);
        assert_eq!(
            top,
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
            "librdkafka admin call failed"
        );
        let value = read(event);
        rd::rd_kafka_event_destroy(event);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_queue_destroy(queue);
        value
    }
}

/// librdkafka sets `user`'s SCRAM-SHA-512 password (it computes the salted
/// password from `password` and `salt`); the per-user outcome.
fn rd_upsert(
    admin: &AdminClient<DefaultClientContext>,
    user: &str,
    iterations: i32,
    password: &str,
    salt: &str,
) -> Vec<(String, i32, String)> {
    let c_user = CString::new(user).unwrap();
    call(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERUSERSCRAMCREDENTIALS,
        |rk, options, queue| unsafe {
            let mut alteration = rd::rd_kafka_UserScramCredentialUpsertion_new(
                c_user.as_ptr(),
                rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_512,
                iterations,
                password.as_ptr(),
                password.len(),
                salt.as_ptr(),
                salt.len(),
            );
            rd::rd_kafka_AlterUserScramCredentials(rk, &mut alteration, 1, options, queue);
            rd::rd_kafka_UserScramCredentialAlteration_destroy(alteration);
        },
        |event| unsafe {
            let result = rd::rd_kafka_event_AlterUserScramCredentials_result(event);
            assert!(!result.is_null(), "not an AlterUserScramCredentials result");
            let mut n = 0usize;
            let responses = rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &mut n);
            (0..n)
                .map(|i| {
                    let r = *responses.add(i);
                    let user = CStr::from_ptr(
                        rd::rd_kafka_AlterUserScramCredentials_result_response_user(r),
                    );
                    let (code, text) =
                        item_error(rd::rd_kafka_AlterUserScramCredentials_result_response_error(r));
                    (user.to_string_lossy().into_owned(), code, text)
                })
                .collect()
        },
    )
}

/// (user, error code, [(mechanism, iterations)]) per described user.
type Described = Vec<(String, i32, Vec<(i32, i32)>)>;

/// librdkafka describes `users`.
fn rd_describe(admin: &AdminClient<DefaultClientContext>, users: &[&str]) -> Described {
    let names: Vec<CString> = users.iter().map(|u| CString::new(*u).unwrap()).collect();
    let mut ptrs: Vec<*const std::os::raw::c_char> = names.iter().map(|n| n.as_ptr()).collect();
    call(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEUSERSCRAMCREDENTIALS,
        |rk, options, queue| unsafe {
            let list = if ptrs.is_empty() {
                ptr::null_mut()
            } else {
                ptrs.as_mut_ptr()
            };
            rd::rd_kafka_DescribeUserScramCredentials(rk, list, ptrs.len(), options, queue);
        },
        |event| unsafe {
            let result = rd::rd_kafka_event_DescribeUserScramCredentials_result(event);
            assert!(
                !result.is_null(),
                "not a DescribeUserScramCredentials result"
            );
            let mut n = 0usize;
            let descriptions =
                rd::rd_kafka_DescribeUserScramCredentials_result_descriptions(result, &mut n);
            (0..n)
                .map(|i| {
                    let d = *descriptions.add(i);
                    let user = CStr::from_ptr(rd::rd_kafka_UserScramCredentialsDescription_user(d));
                    let (code, _) =
                        item_error(rd::rd_kafka_UserScramCredentialsDescription_error(d));
                    let infos = (0
                        ..rd::rd_kafka_UserScramCredentialsDescription_scramcredentialinfo_count(
                            d,
                        ))
                        .map(|j| {
                            let info =
                                rd::rd_kafka_UserScramCredentialsDescription_scramcredentialinfo(
                                    d, j,
                                );
                            (
                                rd::rd_kafka_ScramCredentialInfo_mechanism(info) as i32,
                                rd::rd_kafka_ScramCredentialInfo_iterations(info),
                            )
                        })
                        .collect();
                    (user.to_string_lossy().into_owned(), code, infos)
                })
                .collect()
        },
    )
}

async fn login(cluster: &MockCluster, user: &str, password: &str) -> kafkit::Result<Client> {
    Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(Sasl::scram_sha512(Credentials::new(user, password)))
        .build()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_librdkafka_sets_let_kafkit_log_in() {
    let cluster = MockCluster::builder()
        .brokers(2)
        .sasl_user(Mechanism::ScramSha256, "admin", "admin-secret")
        .sasl_user(Mechanism::ScramSha512, "admin", "admin-secret")
        .build()
        .await
        .unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let (altered, described, refused) = tokio::task::spawn_blocking(move || {
        let admin = rd_admin(&bootstrap);
        let altered = rd_upsert(&admin, "dave", 8192, "dave-pw", "a-salt-of-dave");
        let described = rd_describe(&admin, &["dave", "admin", "nobody"]);
        let refused = rd_upsert(&admin, "erin", 100, "erin-pw", "salt");
        (altered, described, refused)
    })
    .await
    .unwrap();
    assert_eq!(altered, [("dave".to_owned(), 0, String::new())]);
    assert_eq!(
        described,
        [
            ("dave".to_owned(), 0, vec![(2, 8192)]),
            ("admin".to_owned(), 0, vec![(1, 4096), (2, 4096)]),
            (
                "nobody".to_owned(),
                ErrorCode::RESOURCE_NOT_FOUND.0 as i32,
                vec![]
            ),
        ]
    );
    let [(user, code, text)] = &refused[..] else {
        panic!("{refused:?}")
    };
    assert_eq!(
        (user.as_str(), *code),
        ("erin", ErrorCode::UNACCEPTABLE_CREDENTIAL.0 as i32)
    );
    assert!(text.contains("100"), "{text}");

    // kafkit logs in with the password librdkafka salted; not with another.
    let dave = login(&cluster, "dave", "dave-pw").await.unwrap();
    dave.close(Duration::from_secs(5)).await;
    let wrong = login(&cluster, "dave", "not-dave").await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED));
}
