//! GRPO advantages and losses agree with NumPy fixtures (fixtures/make_grpo_fixtures.py) to 1e-6,
//! and the loss's gradient agrees with finite differences, alone and through the whole model.

use rollout_worker::grpo::{
    advantages, grpo_loss, AdvantageConfig, LossConfig, LossType, ScaleRewards,
};
use rollout_worker::model::backward::backward;
use rollout_worker::model::{forward, ModelConfig, ModelWeights, ScoredSequence};
use rollout_worker::rng::Rng;
use serde_json::Value;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("../fixtures/grpo_fixtures.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn ragged(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

fn loss_type(name: &str) -> LossType {
    match name {
        "grpo" => LossType::Grpo,
        "dr_grpo" => LossType::DrGrpo,
        "dapo" => LossType::Dapo,
        other => panic!("unknown loss type {other}"),
    }
}

#[test]
fn advantages_match_numpy() {
    let mut worst: f64 = 0.0;
    for case in fixtures()["advantages"].as_array().unwrap() {
        let scale = match case["scale"].as_str().unwrap() {
            "group" => ScaleRewards::Group,
            "batch" => ScaleRewards::Batch,
            _ => ScaleRewards::None,
        };
        let config = AdvantageConfig {
            group_size: case["group_size"].as_u64().unwrap() as usize,
            scale,
            eps: case["eps"].as_f64().unwrap(),
        };
        let got = advantages(&floats(&case["rewards"]), config);
        for (g, e) in got.iter().zip(floats(&case["expected"])) {
            assert!((g - e).abs() < 1e-6, "{case}: got {got:?}");
            worst = worst.max((g - e).abs());
        }
    }
    println!("advantages: worst |rust - numpy| = {worst:.3e}");
}

#[test]
fn every_loss_variant_matches_numpy() {
    let mut worst: f64 = 0.0;
    let cases = fixtures()["losses"].as_array().unwrap().clone();
    for case in &cases {
        let config = LossConfig {
            loss_type: loss_type(case["loss_type"].as_str().unwrap()),
            epsilon_low: case["epsilon_low"].as_f64().unwrap(),
            epsilon_high: case["epsilon_high"].as_f64().unwrap(),
            beta: case["beta"].as_f64().unwrap(),
            max_completion_length: case["max_completion_length"].as_u64().unwrap() as usize,
        };
        let refs = ragged(&case["ref_logps"]);
        let out = grpo_loss(
            &config,
            &ragged(&case["logps"]),
            &ragged(&case["old_logps"]),
            Some(&refs),
            &floats(&case["advantages"]),
        );
        let expected = case["expected_loss"].as_f64().unwrap();
        assert!(
            (out.loss - expected).abs() < 1e-6,
            "{}: {} vs {expected}",
            case["loss_type"],
            out.loss
        );
        worst = worst.max((out.loss - expected).abs());
        for (g, e) in out
            .d_logps
            .iter()
            .flatten()
            .zip(ragged(&case["expected_d_logps"]).iter().flatten())
        {
            assert!(
                (g - e).abs() < 1e-6,
                "{}: gradient {g} vs {e}",
                case["loss_type"]
            );
            worst = worst.max((g - e).abs());
        }
    }
    println!(
        "losses ({} cases, 3 variants): worst |rust - numpy| = {worst:.3e}",
        cases.len()
    );
}

/// Finite differences of the loss with respect to each log-probability, off-policy so that
/// clipping is active on some tokens (kept away from the kinks at the clip bounds).
#[test]
fn loss_gradient_matches_finite_differences() {
    let mut rng = Rng::new(11);
    for loss_type in [LossType::Grpo, LossType::DrGrpo, LossType::Dapo] {
        let config = LossConfig {
            loss_type,
            epsilon_low: 0.2,
            epsilon_high: 0.28,
            beta: 0.04,
            max_completion_length: 8,
        };
        let lens = [3, 8, 1, 5];
        let logps: Vec<Vec<f64>> = lens
            .iter()
            .map(|&n| (0..n).map(|_| -rng.uniform() * 3.0).collect())
            .collect();
        let old: Vec<Vec<f64>> = logps
            .iter()
            .map(|s| s.iter().map(|l| l + 0.4 * rng.normal()).collect())
            .collect();
        let refs: Vec<Vec<f64>> = logps
            .iter()
            .map(|s| s.iter().map(|l| l + 0.5 * rng.normal()).collect())
            .collect();
        let adv = vec![1.0, -0.7, 0.3, -1.2];
        let out = grpo_loss(&config, &logps, &old, Some(&refs), &adv);
        let mut worst: f64 = 0.0;
        let eps = 1e-6;
        for i in 0..lens.len() {
            for t in 0..lens[i] {
                let rho = (logps[i][t] - old[i][t]).exp();
                if (rho - 0.8).abs() < 1e-4 || (rho - 1.28).abs() < 1e-4 {
                    continue;
                }
                let mut p = logps.clone();
                p[i][t] += eps;
                let plus = grpo_loss(&config, &p, &old, Some(&refs), &adv).loss;
                p[i][t] -= 2.0 * eps;
                let minus = grpo_loss(&config, &p, &old, Some(&refs), &adv).loss;
                let numeric = (plus - minus) / (2.0 * eps);
                let g = out.d_logps[i][t];
                let rel = (numeric - g).abs() / numeric.abs().max(g.abs()).max(1e-8);
                assert!(
                    rel < 1e-3 || (numeric - g).abs() < 1e-9,
                    "{loss_type:?} [{i}][{t}]: {g} vs {numeric}"
                );
                worst = worst.max(rel);
            }
        }
        println!("{loss_type:?} loss gradient: worst relative error {worst:.3e}");
    }
}

/// The GRPO loss through the whole tiny model: d loss / d weights vs finite differences.
#[test]
fn grpo_loss_through_the_model_matches_finite_differences() {
    let config = ModelConfig::tiny(10);
    let mut rng = Rng::new(5);
    let mut w = ModelWeights::<f64>::random(&config, &mut rng);
    for (_, t) in w.tensors_mut() {
        t.iter_mut().for_each(|x| *x += 0.2 * rng.normal());
    }
    let batch = vec![
        ScoredSequence {
            tokens: vec![1, 2, 3, 4, 5],
            first_scored: 2,
        },
        ScoredSequence {
            tokens: vec![1, 2, 6, 7],
            first_scored: 2,
        },
    ];
    let (logps0, _) = forward(&w, &batch, 1.0);
    let old: Vec<Vec<f64>> = logps0
        .iter()
        .map(|s| s.iter().map(|l| l + 0.1).collect())
        .collect();
    let refs: Vec<Vec<f64>> = logps0
        .iter()
        .map(|s| s.iter().map(|l| l - 0.3).collect())
        .collect();
    let adv = [0.9, -0.9];
    let lc = LossConfig {
        beta: 0.05,
        ..LossConfig::default()
    };
    let loss_of = |w: &ModelWeights<f64>| {
        let (lp, _) = forward(w, &batch, 1.0);
        grpo_loss(&lc, &lp, &old, Some(&refs), &adv)
    };
    let (logps, acts) = forward(&w, &batch, 1.0);
    let out = grpo_loss(&lc, &logps, &old, Some(&refs), &adv);
    let mut grads = ModelWeights::zeros(&config);
    backward(&w, &acts, &out.d_logps, &mut grads);
    let analytic: Vec<Vec<f64>> = grads
        .tensors()
        .into_iter()
        .map(|(_, _, t)| t.clone())
        .collect();
    let mut worst: f64 = 0.0;
    for (ti, g) in analytic.iter().enumerate() {
        for _ in 0..6 {
            let i = rng.below(g.len());
            let orig = w.tensors_mut()[ti].1[i];
            w.tensors_mut()[ti].1[i] = orig + 1e-5;
            let plus = loss_of(&w).loss;
            w.tensors_mut()[ti].1[i] = orig - 1e-5;
            let minus = loss_of(&w).loss;
            w.tensors_mut()[ti].1[i] = orig;
            let numeric = (plus - minus) / 2e-5;
            let rel = (numeric - g[i]).abs() / numeric.abs().max(g[i].abs()).max(1e-7);
            assert!(rel < 1e-3, "tensor {ti}[{i}]: {} vs {numeric}", g[i]);
            worst = worst.max(rel);
        }
    }
    println!("GRPO loss through the model: worst relative error {worst:.3e}");
}
