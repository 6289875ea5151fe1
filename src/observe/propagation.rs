//! W3C trace context (`traceparent`, `tracestate`) in record headers, through
//! the `opentelemetry` propagator API (feature `opentelemetry`).
//!
//! kafkit injects with whatever propagator the application installed
//! (`opentelemetry::global::set_text_map_propagator`, usually
//! `TraceContextPropagator`) and takes the context of its `send {topic}`
//! span from tracing-opentelemetry, so an application that already bridges
//! `tracing` to OpenTelemetry needs nothing more. Without a propagator
//! (the global default is a no-op) or without the bridge layer, nothing is
//! injected and the headers stay as the application set them.
//!
//! On the consumer, [`Consumer::process_span`](crate::consumer::Consumer::process_span)
//! makes the extracted context the `process {topic}` span's parent, so the
//! trace continues from producer to consumer.

use bytes::Bytes;
use opentelemetry::propagation::{Extractor, Injector};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::protocol::records::Header;

/// The OpenTelemetry context carried in `headers` (by the application's
/// propagator), or an empty context when none is.
pub fn extract(headers: &[Header]) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Writes the context of `span` into `headers` with the application's
/// propagator, replacing headers of the same names. Does nothing when the
/// span has no valid OpenTelemetry context.
pub(crate) fn inject(span: &Span, headers: &mut Vec<(String, Option<Bytes>)>) {
    use opentelemetry::trace::TraceContextExt;
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers))
    });
}

/// Makes the context in `headers`, if any, the parent of `span`.
pub(crate) fn set_parent_from_headers(span: &Span, headers: &[Header]) {
    use opentelemetry::trace::TraceContextExt;
    if span.is_disabled() || headers.is_empty() {
        return;
    }
    let cx = extract(headers);
    if cx.span().span_context().is_valid() {
        // Fails only when the span has no OpenTelemetry layer: then there
        // is no trace to continue.
        let _ = span.set_parent(cx);
    }
}

struct HeaderInjector<'a>(&'a mut Vec<(String, Option<Bytes>)>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A record forwarded with its old trace headers gets the new ones.
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), Some(Bytes::from(value))));
    }
}

struct HeaderExtractor<'a>(&'a [Header]);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // The last header of a name wins, as Java's `Headers.lastHeader`.
        let h = self
            .0
            .iter()
            .rev()
            .find(|h| h.key.as_ref() == key.as_bytes())?;
        std::str::from_utf8(h.value.as_deref()?).ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|h| std::str::from_utf8(&h.key).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injector_replaces_and_extractor_reads_the_last() {
        let mut headers = vec![("traceparent".to_owned(), Some(Bytes::from_static(b"old")))];
        HeaderInjector(&mut headers).set("traceparent", "new".into());
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].1.as_deref(), Some(&b"new"[..]));
        let wire = vec![
            Header {
                key: Bytes::from_static(b"traceparent"),
                value: Some(Bytes::from_static(b"a")),
            },
            Header {
                key: Bytes::from_static(b"traceparent"),
                value: Some(Bytes::from_static(b"b")),
            },
            Header {
                key: Bytes::from_static(b"tracestate"),
                value: None,
            },
        ];
        let ex = HeaderExtractor(&wire);
        assert_eq!(ex.get("traceparent"), Some("b"));
        assert_eq!(ex.get("tracestate"), None);
        assert_eq!(ex.keys(), vec!["traceparent", "traceparent", "tracestate"]);
    }
}
