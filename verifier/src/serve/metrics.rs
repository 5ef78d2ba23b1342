//! Prometheus metrics of the service: requests, samples graded by kind and status, latency
//! histograms, and the admission queue's depth.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub samples: IntCounterVec,
    pub batch_seconds: Histogram,
    pub sample_seconds: HistogramVec,
    pub batch_size: Histogram,
    pub queue_depth: IntGauge,
    pub inflight_requests: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "verifier_http_requests_total",
                "HTTP requests by route and status code",
            ),
            &["route", "code"],
        )
        .expect("valid metric");
        let samples = IntCounterVec::new(
            Opts::new(
                "verifier_samples_graded_total",
                "Samples graded, by task kind and status",
            ),
            &["kind", "status"],
        )
        .expect("valid metric");
        let batch_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "verifier_grade_batch_seconds",
                "Time from admitting a /v1/grade batch to its results being ready",
            )
            .buckets(prometheus::exponential_buckets(0.0001, 2.0, 20).expect("valid buckets")),
        )
        .expect("valid metric");
        let sample_seconds = HistogramVec::new(
            HistogramOpts::new(
                "verifier_sample_grade_seconds",
                "Grading time per sample, by kind",
            )
            .buckets(prometheus::exponential_buckets(0.000001, 4.0, 14).expect("valid buckets")),
            &["kind"],
        )
        .expect("valid metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(
                "verifier_grade_batch_samples",
                "Samples per /v1/grade batch",
            )
            .buckets(prometheus::exponential_buckets(1.0, 4.0, 9).expect("valid buckets")),
        )
        .expect("valid metric");
        let queue_depth = IntGauge::new(
            "verifier_queue_depth",
            "Samples admitted and not yet answered (bounded by --max-queue)",
        )
        .expect("valid metric");
        let inflight_requests = IntGauge::new(
            "verifier_inflight_requests",
            "HTTP grading requests being served",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(samples.clone()),
            Box::new(batch_seconds.clone()),
            Box::new(sample_seconds.clone()),
            Box::new(batch_size.clone()),
            Box::new(queue_depth.clone()),
            Box::new(inflight_requests.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            requests,
            samples,
            batch_seconds,
            sample_seconds,
            batch_size,
            queue_depth,
            inflight_requests,
        }
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("prometheus text is UTF-8")
    }
}
