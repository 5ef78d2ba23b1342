//! `rollout-worker`: the GRPO loop of DeepSeek-R1 on a small Llama-family policy, with rewards
//! from the verifier. (The model and the loop land with the rollout-worker issue.)

fn main() {
    eprintln!("rollout-worker: the GRPO loop is not built yet");
    std::process::exit(2);
}
