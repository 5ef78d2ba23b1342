//! Prometheus metrics of the service: requests, samples graded by kind and status, latency
//! histograms, the admission queue's depth; code samples by verdict; the sandbox pool (workers
//! busy, jobs waiting, their wait, restarts; read from the pool's counters at each scrape); the
//! process (RSS, CPU seconds, open file descriptors, start time: prometheus' own collector,
//! which reads /proc/self); and a build-info gauge carrying the version.

use std::sync::Arc;

use prometheus::{
    Counter, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use sandboxes::PoolStats;

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub samples: IntCounterVec,
    pub batch_seconds: Histogram,
    pub sample_seconds: HistogramVec,
    pub batch_size: Histogram,
    pub queue_depth: IntGauge,
    pub inflight_requests: IntGauge,
    /// Code samples by the code grader's overall verdict (`passed`, `wrong_answer`, ...).
    pub code_verdicts: IntCounterVec,
    pool: PoolGauges,
}

/// The sandbox pool's counters, brought up to date from [`PoolStats`] when scraped (the
/// counters by the difference, under a lock, so two scrapes at once cannot count it twice).
struct PoolGauges {
    stats: Arc<PoolStats>,
    workers: IntGauge,
    busy: IntGauge,
    queued: IntGauge,
    jobs: IntCounter,
    wait_seconds: Counter,
    restarts: IntCounter,
    update: std::sync::Mutex<()>,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn int_gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

impl Metrics {
    pub fn new(pool_stats: Arc<PoolStats>) -> Metrics {
        let registry = Registry::new();
        let requests = counter_vec(
            "verifier_http_requests_total",
            "HTTP requests by route and status code",
            &["route", "code"],
        );
        let samples = counter_vec(
            "verifier_samples_graded_total",
            "Samples graded, by task kind and status",
            &["kind", "status"],
        );
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
        let queue_depth = int_gauge(
            "verifier_queue_depth",
            "Samples admitted and not yet answered (bounded by --max-queue)",
        );
        let inflight_requests = int_gauge(
            "verifier_inflight_requests",
            "HTTP grading requests being served",
        );
        let code_verdicts = counter_vec(
            "verifier_code_verdicts_total",
            "Code samples by the code grader's verdict (the first failing test's, or passed)",
            &["verdict"],
        );
        let build_info = IntGaugeVec::new(
            Opts::new(
                "verifier_build_info",
                "Always 1; the labels say which build is running",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let pool = PoolGauges {
            stats: pool_stats,
            workers: int_gauge(
                "verifier_sandbox_workers",
                "Sandbox worker processes (0 until the first code task starts the pool)",
            ),
            busy: int_gauge(
                "verifier_sandbox_workers_busy",
                "Sandbox workers running a job now",
            ),
            queued: int_gauge(
                "verifier_sandbox_jobs_queued",
                "Sandbox jobs waiting for a free worker",
            ),
            jobs: IntCounter::new(
                "verifier_sandbox_jobs_total",
                "Sandbox jobs taken by a worker",
            )
            .expect("valid metric"),
            wait_seconds: Counter::new(
                "verifier_sandbox_queue_wait_seconds_total",
                "Time sandbox jobs waited for a worker (divide its rate by \
                 verifier_sandbox_jobs_total's for the mean wait)",
            )
            .expect("valid metric"),
            restarts: IntCounter::new(
                "verifier_sandbox_worker_restarts_total",
                "Sandbox workers started to replace one that died, failed or hung",
            )
            .expect("valid metric"),
            update: std::sync::Mutex::new(()),
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(requests.clone()),
            Box::new(samples.clone()),
            Box::new(batch_seconds.clone()),
            Box::new(sample_seconds.clone()),
            Box::new(batch_size.clone()),
            Box::new(queue_depth.clone()),
            Box::new(inflight_requests.clone()),
            Box::new(code_verdicts.clone()),
            Box::new(build_info),
            Box::new(pool.workers.clone()),
            Box::new(pool.busy.clone()),
            Box::new(pool.queued.clone()),
            Box::new(pool.jobs.clone()),
            Box::new(pool.wait_seconds.clone()),
            Box::new(pool.restarts.clone()),
            // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
            // process_max_fds, process_start_time_seconds, process_threads, ...
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for collector in collectors {
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
            code_verdicts,
            pool,
        }
    }

    /// Counts a code sample's verdict; a value the grader does not document is `other`, so
    /// that the label set stays bounded whatever a result holds.
    pub fn count_code_verdict(&self, verdict: Option<&str>) {
        let label = verdict
            .filter(|v| graders::code::verdict::SAMPLE_VERDICTS.contains(v))
            .unwrap_or("other");
        self.code_verdicts.with_label_values(&[label]).inc();
    }

    pub fn render(&self) -> String {
        self.pool.update();
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("prometheus text is UTF-8")
    }
}

impl PoolGauges {
    fn update(&self) {
        let _one_at_a_time = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.stats.snapshot();
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.workers.set(gauge(now.workers));
        self.busy.set(gauge(now.busy));
        self.queued.set(gauge(now.queued));
        self.jobs.inc_by(now.jobs.saturating_sub(self.jobs.get()));
        let waited = now.wait_seconds - self.wait_seconds.get();
        if waited > 0.0 {
            self.wait_seconds.inc_by(waited);
        }
        self.restarts
            .inc_by(now.restarts.saturating_sub(self.restarts.get()));
    }
}
