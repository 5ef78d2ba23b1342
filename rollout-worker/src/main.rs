//! `rollout-worker`: the GRPO loop of DeepSeek-R1 on a small Llama-family policy, with rewards
//! from the verifier.

fn main() {
    eprintln!("rollout-worker: the GRPO loop is not built yet");
    std::process::exit(2);
}
