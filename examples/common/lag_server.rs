//! The lag exporter's HTTP side: `GET /metrics` reads each watched group's
//! lag with `Admin::consumer_group_lag` (committed offsets and end offsets,
//! without joining the group) and answers with `kafka_consumer_lag` and
//! `kafka_consumer_lag_sum` in Prometheus' text format, encoded by
//! `prometheus-client`. Shared by `examples/lag_exporter.rs` and its test
//! (`tests/observability.rs`), which serves it in-process.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use kafkit::Admin;
use kafkit::consumer::IsolationLevel;
use kafkit::observe::prometheus::ConsumerLagCollector;
use prometheus_client::registry::Registry;

/// What a scrape needs.
pub struct Exporter {
    admin: Admin,
    groups: Vec<String>,
    isolation: IsolationLevel,
    lag: ConsumerLagCollector,
    registry: Registry,
}

impl Exporter {
    /// An exporter for `groups`, reading end offsets at `isolation`.
    pub fn new(admin: Admin, groups: Vec<String>, isolation: IsolationLevel) -> Exporter {
        let lag = ConsumerLagCollector::new();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(lag.clone()));
        Exporter {
            admin,
            groups,
            isolation,
            lag,
            registry,
        }
    }

    /// Reads every group's lag now and encodes the registry.
    pub async fn scrape(&self) -> Result<String, std::fmt::Error> {
        for group in &self.groups {
            match self.admin.consumer_group_lag(group, self.isolation).await {
                Ok(lags) => self.lag.set(
                    group,
                    lags.into_iter()
                        .map(|(tp, l)| (tp.topic.to_string(), tp.partition, l.lag)),
                ),
                Err(e) => {
                    // Stale lag would mislead an autoscaler: drop the group's
                    // series until it can be read again.
                    tracing::warn!(group = %group, error = %e, "cannot read the group's lag");
                    self.lag.remove(group);
                }
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

async fn metrics(State(exporter): State<Arc<Exporter>>) -> impl IntoResponse {
    match exporter.scrape().await {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Serves `/metrics` on `listener` until `stop` resolves.
pub async fn serve(
    exporter: Exporter,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(Arc::new(exporter));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}
