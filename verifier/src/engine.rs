//! The grading engine shared by `verifier grade` and `verifier serve`: parses raw samples, grades
//! each distinct (task, completion) pair once, runs the graders on a CPU pool with a deadline per
//! sample, applies group-relative shaping, and returns results in input order.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use graders::{GradeContext, GradeResult, Registry, Sample, SampleError};
use rayon::prelude::*;

/// Samples per rayon task: small enough to balance two cores, large enough that scheduling
/// costs nothing next to a few microseconds of grading each.
const PARALLEL_CHUNK: usize = 64;

pub struct Engine {
    registry: Registry,
    /// Pure graders (microseconds a sample).
    pool: rayon::ThreadPool,
    /// Samples that run in the sandboxes (seconds a sample, mostly waiting on a worker
    /// process): one thread per sandbox worker, so that each such sample reaches a free worker
    /// whatever its batch's size, its deadline starts when one is free, and sandbox work never
    /// occupies the pure graders' threads.
    sandbox_pool: rayon::ThreadPool,
    jobs: usize,
    default_timeout: Duration,
    max_timeout: Duration,
}

/// Results in input order, with the task kind of each (for metrics; `None` when the sample did
/// not parse, `unknown` for a kind no grader owns, so labels stay bounded).
pub struct Graded {
    pub results: Vec<GradeResult>,
    pub kinds: Vec<Option<String>>,
}

impl Engine {
    pub fn new(
        registry: Registry,
        jobs: usize,
        default_timeout: Duration,
    ) -> anyhow::Result<Engine> {
        let jobs = jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("grader-{i}"))
            .build()?;
        // The sandbox pool starts one worker process per core (`sandboxes::PoolConfig`).
        let sandbox_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(crate::default_jobs())
            .thread_name(|i| format!("sandboxed-{i}"))
            .build()?;
        Ok(Engine {
            registry,
            pool,
            sandbox_pool,
            jobs,
            default_timeout,
            max_timeout: default_timeout.max(Duration::from_secs(60)),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// Runs `work` on the engine's pool and waits for it (for parallel work around grading).
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.pool.install(work)
    }

    /// Parses and grades JSON texts, one sample each. A text that does not parse becomes an
    /// `error` result whose message starts with `position(i)` (e.g. "line 17"). Blocks until
    /// the batch is graded: call it from a thread of the caller's (not one of the engine's).
    pub fn grade_texts(
        &self,
        texts: &[&str],
        position: &(dyn Fn(usize) -> String + Sync),
    ) -> Graded {
        let parsed: Vec<Result<Sample, SampleError>> = self.pool.install(|| {
            texts
                .par_iter()
                .with_min_len(PARALLEL_CHUNK)
                .map(|text| Sample::from_json_str(text))
                .collect()
        });
        self.grade_samples(parsed, position)
    }

    /// Grades samples already parsed (or built by a route from its own request shape); an
    /// `Err` becomes an `error` result whose message starts with `position(i)`. Blocks as
    /// [`Engine::grade_texts`] does.
    pub fn grade_samples(
        &self,
        parsed: Vec<Result<Sample, SampleError>>,
        position: &(dyn Fn(usize) -> String + Sync),
    ) -> Graded {
        let keys: Vec<Option<CacheKey>> = self.pool.install(|| {
            parsed
                .par_iter()
                .with_min_len(PARALLEL_CHUNK)
                .map(|p| p.as_ref().ok().map(CacheKey::of))
                .collect()
        });
        let first_of = first_occurrences(&keys, &parsed);
        self.prepare_graders(&parsed);

        // First occurrences that run in the sandboxes go to their own pool, one sample a task;
        // everything else is graded on the pure graders' pool in chunks, meanwhile.
        let sandboxed: Vec<usize> = (0..parsed.len())
            .filter(|&i| first_of[i].is_none())
            .filter(|&i| parsed[i].as_ref().is_ok_and(uses_sandbox))
            .collect();
        let (mut results, sandboxed_results) = std::thread::scope(|scope| {
            let sandboxed_results = (!sandboxed.is_empty()).then(|| {
                scope.spawn(|| {
                    self.sandbox_pool.install(|| {
                        sandboxed
                            .par_iter()
                            .with_max_len(1)
                            .map(|&i| {
                                let sample = parsed[i].as_ref().expect("filtered to parsed");
                                self.grade_one(sample)
                            })
                            .collect::<Vec<GradeResult>>()
                    })
                })
            });
            let results: Vec<Option<GradeResult>> = self.pool.install(|| {
                parsed
                    .par_iter()
                    .zip(first_of.par_iter())
                    .enumerate()
                    .with_min_len(PARALLEL_CHUNK)
                    .map(|(i, (sample, first))| match (sample, first) {
                        (Err(err), _) => Some(GradeResult::error(
                            err.id.clone(),
                            format!("{}: {}", position(i), err.message),
                        )),
                        (Ok(sample), None) if !uses_sandbox(sample) => Some(self.grade_one(sample)),
                        (Ok(_), _) => None,
                    })
                    .collect()
            });
            let sandboxed_results = sandboxed_results
                .map(|handle| handle.join().expect("a grading thread panicked"))
                .unwrap_or_default();
            (results, sandboxed_results)
        });
        for (i, result) in sandboxed.into_iter().zip(sandboxed_results) {
            results[i] = Some(result);
        }
        for (i, first) in first_of.iter().enumerate() {
            if let (Some(first), Ok(sample)) = (first, &parsed[i]) {
                let mut copy = results[*first].clone().expect("first occurrence graded");
                copy.id = sample.id.clone();
                copy.group_id = sample.group_id.clone();
                copy.elapsed_us = 0;
                copy.cached = true;
                results[i] = Some(copy);
            }
        }
        let mut results: Vec<GradeResult> = results.into_iter().map(Option::unwrap).collect();
        self.apply_group_rewards(&parsed, &mut results);

        let kinds = parsed
            .iter()
            .map(|p| {
                p.as_ref()
                    .ok()
                    .map(|s| match self.registry.get(s.task.kind()) {
                        Some(_) => s.task.kind().to_string(),
                        None => "unknown".to_string(),
                    })
            })
            .collect();
        Graded { results, kinds }
    }

    /// Lets each grader the batch needs do its one-off start-up (the code grader's sandboxes)
    /// before any deadline starts: a first batch must not time out while runtimes are set up.
    fn prepare_graders(&self, parsed: &[Result<Sample, SampleError>]) {
        // A batch holds a handful of kinds: a short list beats a set on this per-sample path.
        let mut prepared: Vec<&str> = Vec::new();
        let tasks = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .flat_map(|s| std::iter::once(&s.task).chain(s.components.iter().map(|c| &c.task)));
        for task in tasks {
            let kind = task.kind();
            if prepared.contains(&kind) {
                continue;
            }
            prepared.push(kind);
            if let Some(grader) = self.registry.get(kind) {
                grader.prepare();
            }
        }
    }

    fn grade_one(&self, sample: &Sample) -> GradeResult {
        let ctx = match sample.limits.timeout_ms {
            Some(ms) => {
                GradeContext::with_client_deadline(Duration::from_millis(ms).min(self.max_timeout))
            }
            None => GradeContext::with_deadline(Instant::now() + self.default_timeout),
        };
        graders::grade_sample(&self.registry, sample, &ctx)
    }

    fn apply_group_rewards(
        &self,
        parsed: &[Result<Sample, SampleError>],
        results: &mut [GradeResult],
    ) {
        let grouped: Vec<usize> = (0..parsed.len())
            .filter(|&i| matches!(&parsed[i], Ok(s) if s.group_id.is_some()))
            .collect();
        if grouped.is_empty() {
            return;
        }
        let samples: Vec<&Sample> = grouped
            .iter()
            .map(|&i| parsed[i].as_ref().expect("filtered to parsed samples"))
            .collect();
        let mut group_results: Vec<GradeResult> =
            grouped.iter().map(|&i| results[i].clone()).collect();
        graders::shaping::apply_group_rewards(&samples, &mut group_results);
        for (i, result) in grouped.into_iter().zip(group_results) {
            results[i] = result;
        }
    }
}

/// Whether grading `sample` runs programs in the sandboxes (its task or a component is code).
fn uses_sandbox(sample: &Sample) -> bool {
    std::iter::once(&sample.task)
        .chain(sample.components.iter().map(|c| &c.task))
        .any(|task| matches!(task, graders::Task::Code(_)))
}

/// What makes two samples grade the same: everything but `id` and `group_id`.
struct CacheKey {
    hash: u64,
    grading_inputs: String,
}

impl CacheKey {
    fn of(sample: &Sample) -> CacheKey {
        let grading_inputs = serde_json::to_string(&(
            &sample.task,
            sample.weight,
            &sample.components,
            &sample.limits,
        ))
        .unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        grading_inputs.hash(&mut hasher);
        sample.completion.hash(&mut hasher);
        CacheKey {
            hash: hasher.finish(),
            grading_inputs,
        }
    }
}

/// For each sample, the index of an earlier identical sample, if there is one. Hash collisions
/// are resolved by comparing the full inputs, so a collision can only cost a re-grade.
fn first_occurrences(
    keys: &[Option<CacheKey>],
    parsed: &[Result<Sample, SampleError>],
) -> Vec<Option<usize>> {
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(keys.len());
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let key = key.as_ref()?;
            match seen.get(&key.hash) {
                Some(&first) => {
                    let same = keys[first].as_ref().unwrap().grading_inputs == key.grading_inputs
                        && completion(&parsed[first]) == completion(&parsed[i]);
                    same.then_some(first)
                }
                None => {
                    seen.insert(key.hash, i);
                    None
                }
            }
        })
        .collect()
}

fn completion(parsed: &Result<Sample, SampleError>) -> Option<&str> {
    parsed.as_ref().ok().map(|s| s.completion.as_str())
}

/// Status counts and mean reward over a run, for summaries.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub count: u64,
    pub reward_sum: f64,
    pub by_status: std::collections::BTreeMap<&'static str, u64>,
}

impl Tally {
    pub fn add(&mut self, result: &GradeResult) {
        self.count += 1;
        self.reward_sum += result.reward;
        *self.by_status.entry(result.status.as_str()).or_default() += 1;
    }

    pub fn mean_reward(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.reward_sum / self.count as f64
        }
    }

    pub fn summary(&self) -> String {
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        format!(
            "{} samples: {}; mean reward {:.4}",
            self.count,
            if statuses.is_empty() {
                "none".to_string()
            } else {
                statuses.join(", ")
            },
            self.mean_reward()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use graders::Status;

    fn engine() -> Engine {
        Engine::new(Registry::with_builtins(), 2, Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn identical_samples_are_graded_once_and_keep_their_own_ids() {
        let a =
            r#"{"id":1,"completion":"<think>x</think>y","task":{"kind":"format","style":"r1"}}"#;
        let b =
            r#"{"id":2,"completion":"<think>x</think>y","task":{"kind":"format","style":"r1"}}"#;
        let c = r#"{"id":3,"completion":"<think>x</think>y","task":{"kind":"format","style":"tag_count"}}"#;
        let graded = engine().grade_texts(&[a, b, c], &|i| format!("#{i}"));
        let r = &graded.results;
        assert_eq!(
            (r[0].cached, r[1].cached, r[2].cached),
            (false, true, false)
        );
        assert_eq!(r[1].id, serde_json::json!(2));
        assert_eq!(r[1].reward, r[0].reward);
        assert_eq!(r[2].components[0].name, "format:tag_count");
    }

    #[test]
    fn a_bad_sample_is_an_error_naming_its_position_and_field_and_spoils_nothing() {
        let good =
            r#"{"id":"g","completion":"<think>x</think>y","task":{"kind":"format","style":"r1"}}"#;
        let bad = r#"{"id":"b","completion":["no"],"task":{"kind":"format","style":"r1"}}"#;
        let graded = engine().grade_texts(&[good, bad, good], &|i| format!("line {}", i + 1));
        let r = &graded.results;
        assert_eq!(r[0].status, Status::Correct);
        assert_eq!(r[2].status, Status::Correct);
        assert_eq!(r[1].status, Status::Error);
        assert_eq!(r[1].id, serde_json::json!("b"));
        let message = r[1].error.as_deref().unwrap();
        assert!(
            message.starts_with("line 2: ") && message.contains("`completion`"),
            "{message}"
        );
        assert_eq!(graded.kinds[1], None);
    }

    #[test]
    fn unknown_kinds_get_a_bounded_metrics_label() {
        let s = r#"{"completion":"x","task":{"kind":"whatever-a-client-sends"}}"#;
        let graded = engine().grade_texts(&[s], &|i| i.to_string());
        assert_eq!(graded.kinds[0].as_deref(), Some("unknown"));
        assert_eq!(graded.results[0].status, Status::Error);
    }

    /// A grader whose one-off start-up, done by `prepare` or else by the first `grade`, takes
    /// longer than a sample's deadline.
    #[derive(Default)]
    struct SlowToStart {
        started: std::sync::OnceLock<()>,
    }

    impl SlowToStart {
        fn start(&self) {
            self.started
                .get_or_init(|| std::thread::sleep(Duration::from_millis(300)));
        }
    }

    impl graders::Grader for SlowToStart {
        fn info(&self) -> graders::GraderInfo {
            graders::GraderInfo {
                kind: "format".into(),
                description: "test".into(),
                available: true,
                variants: Vec::new(),
            }
        }

        fn prepare(&self) {
            self.start();
        }

        fn grade(
            &self,
            _completion: &str,
            _task: &graders::Task,
            ctx: &GradeContext,
        ) -> graders::Verdict {
            self.start();
            if ctx.expired() {
                graders::Verdict::timeout("deadline passed")
            } else {
                graders::Verdict::scored(1.0)
            }
        }
    }

    #[test]
    fn one_off_grader_start_up_is_not_charged_to_a_sample_deadline() {
        let mut registry = Registry::with_builtins();
        registry.insert(std::sync::Arc::new(SlowToStart::default()));
        let engine = Engine::new(registry, 2, Duration::from_secs(10)).unwrap();
        let sample = r#"{"completion":"x","task":{"kind":"format","style":"r1"},"limits":{"timeout_ms":100}}"#;
        let graded = engine.grade_texts(&[sample], &|i| i.to_string());
        let result = &graded.results[0];
        assert_eq!(result.status, Status::Correct, "{:?}", result.error);
    }
}
