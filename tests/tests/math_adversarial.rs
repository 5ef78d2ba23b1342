//! Hostile inputs for the math grader, and a seeded property test over thousands of random
//! answers: no panic, bounded time, `a` equivalent to itself, equivalence symmetric where the
//! rules are symmetric.
//!
//! Time bounds here are generous (debug builds on a shared 2-core machine); the benchmark
//! (`cargo bench -p graders --bench math`) measures the real figures.

use std::time::{Duration, Instant};

use graders::contract::{MathTask, Status, Task};
use graders::math::{equivalent, extract_answer, MathOptions};
use graders::{GradeContext, Grader, Verdict};

fn grade(completion: &str, gold: &str) -> (Verdict, Duration) {
    let task = Task::Math(MathTask {
        answer: gold.to_string(),
        options: Default::default(),
    });
    let start = Instant::now();
    let verdict = graders::math::MathGrader.grade(completion, &task, &GradeContext::default());
    (verdict, start.elapsed())
}

fn hostile_inputs() -> Vec<(&'static str, String)> {
    let tower = |n: usize| format!("\\boxed{{{}2{}}}", "2^{".repeat(n), "}".repeat(n));
    vec![
        ("9^9^9^9", r"\boxed{9^{9^{9^{9}}}}".to_string()),
        (
            "issue #65 tower",
            r"\boxed{\dfrac{5^{\left(5^{\left(5^{\left(5^5\right)}\right)} - 4\right)} - 5}{16}}"
                .to_string(),
        ),
        ("10,000-level tower", tower(10_000)),
        (
            "plain tower",
            format!("\\boxed{{{}2}}", "2^".repeat(10_000)),
        ),
        ("100k digits", format!("\\boxed{{{}}}", "7".repeat(100_000))),
        ("100k digits plain", "9".repeat(100_000)),
        (
            "deep parens",
            format!("\\boxed{{{}1{}}}", "(".repeat(50_000), ")".repeat(50_000)),
        ),
        ("1 MB of braces", "{".repeat(1 << 20)),
        ("1 MB of closing braces", "}".repeat(1 << 20)),
        ("1 MB of boxes", "\\boxed{".repeat((1 << 20) / 7)),
        ("1 MB of dollars", "$".repeat(1 << 20)),
        ("1 MB of \\(", "\\(".repeat(1 << 19)),
        ("1 MB of digits and commas", "1,".repeat(1 << 19)),
        ("1 MB of fracs", "\\frac{1}{".repeat((1 << 20) / 9)),
        ("factorial bomb", r"\boxed{100000!}".to_string()),
        (
            "many factorials",
            format!("\\boxed{{{}1}}", "3000!+".repeat(1000)),
        ),
        ("huge exponent", r"\boxed{2^{10^{100}}}".to_string()),
        (
            "binomial bomb",
            r"\boxed{\binom{10^{9}}{10^{8}}}".to_string(),
        ),
        (
            "nested sqrt",
            format!("\\boxed{{{}2{}}}", "\\sqrt{".repeat(5000), "}".repeat(5000)),
        ),
        ("unicode soup", "∞±√π°²³€∑∫≈≠≤≥".repeat(10_000)),
        (
            "think bomb",
            format!("<think>{}", "\\boxed{1}".repeat(100_000)),
        ),
    ]
}

#[test]
fn hostile_inputs_neither_panic_nor_hang() {
    let mut worst = Duration::ZERO;
    for (name, input) in hostile_inputs() {
        // Golds that no hostile input spells: a plain-number fallback may still find a `1` in a
        // megabyte of `\frac{1}{`, which is an answer of 1, not a hack.
        for gold in ["5", r"\frac{1}{2}", r"2^{2^{2}}"] {
            let (verdict, elapsed) = grade(&input, gold);
            worst = worst.max(elapsed);
            println!(
                "{name:<28} gold {gold:<14} {:?} in {elapsed:?}",
                verdict.status
            );
            assert_ne!(
                verdict.status,
                Status::Correct,
                "{name} must not score against {gold}"
            );
            assert!(
                elapsed < Duration::from_millis(500),
                "{name} took {elapsed:?}"
            );
        }
        // Hostile gold answers are errors or wrong, never a hang.
        let (_, elapsed) = grade(r"\boxed{1}", &input);
        assert!(
            elapsed < Duration::from_millis(500),
            "{name} as gold took {elapsed:?}"
        );
    }
    println!("worst hostile case: {worst:?}");
}

#[test]
fn a_past_deadline_is_a_timeout() {
    let task = Task::Math(MathTask {
        answer: "x^2+2x+1".into(),
        options: Default::default(),
    });
    let ctx = GradeContext::with_deadline(Instant::now());
    let verdict = graders::math::MathGrader.grade(r"\boxed{(x+1)^2}", &task, &ctx);
    assert_eq!(verdict.status, Status::Timeout);
}

/// xorshift64*: a seeded generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A random, mostly well-formed answer.
fn random_expr(rng: &mut Rng, depth: usize) -> String {
    let atoms = [
        "1", "2", "7", "0.5", "x", "y", "\\pi", "e", "3/4", "10", "0", "-1", "i", "a_1",
    ];
    if depth == 0 || rng.below(4) == 0 {
        return rng.pick(&atoms).to_string();
    }
    let a = random_expr(rng, depth - 1);
    let b = random_expr(rng, depth - 1);
    match rng.below(14) {
        0 => format!("{a}+{b}"),
        1 => format!("{a}-{b}"),
        2 => format!("{a}\\cdot {b}"),
        3 => format!("\\frac{{{a}}}{{{b}}}"),
        4 => format!("{{{a}}}^{{{}}}", rng.below(4)),
        5 => format!("\\sqrt{{{a}}}"),
        6 => format!("({a}, {b})"),
        7 => format!("\\{{{a}, {b}\\}}"),
        8 => format!("[{a}, {b})"),
        9 => format!("{a} = {b}"),
        10 => format!("{a} \\le {b}"),
        11 => format!("\\sin({a})"),
        12 => format!("{a} \\pm {b}"),
        _ => format!("\\begin{{pmatrix}}{a} & {b}\\end{{pmatrix}}"),
    }
}

/// Random bytes drawn from characters that matter to the lexer and extractor.
fn random_garbage(rng: &mut Rng) -> String {
    let pieces = [
        "\\",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "$",
        "^",
        "_",
        "\\frac",
        "\\sqrt",
        "\\boxed{",
        "1",
        "9",
        ".",
        ",",
        " ",
        "x",
        "=",
        "<",
        "\\le",
        "&",
        "\\\\",
        "\\begin{pmatrix}",
        "\\end{pmatrix}",
        "%",
        "!",
        "-",
        "+",
        "/",
        "*",
        "\\text{",
        "answer is ",
        "</think>",
        "é",
        "∞",
        "\\pm",
        "\\cup",
        ":",
        ";",
        "|",
        "'",
        "\\left(",
        "\\right)",
        "0/0",
        "4 4/9",
    ];
    (0..rng.below(40)).map(|_| rng.pick(&pieces)).collect()
}

#[test]
fn random_inputs_never_panic_and_are_reflexive() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let options = MathOptions::default();
    let ctx = GradeContext::default();
    let mut parsed = 0;
    for round in 0..4000 {
        let text = if round % 2 == 0 {
            random_expr(&mut rng, 4)
        } else {
            random_garbage(&mut rng)
        };
        // Reflexive: an answer is equivalent to itself (whenever it parses).
        if let Some(a) = extract_answer(&text, &options.gold, false).answer {
            parsed += 1;
            let same = equivalent(&a.expr, &a.expr, &options.rules, &ctx);
            assert_eq!(same, Ok(true), "not reflexive: {text:?}");
            // A boxed copy of an answer that parsed whole scores (otherwise extraction may differ).
            let (verdict, _) = grade(&format!("\\boxed{{{text}}}"), &text);
            let parsed_whole = a.text == text.trim();
            assert!(
                round % 2 == 1
                    || !parsed_whole
                    || matches!(
                        verdict.status,
                        Status::Correct | Status::Error | Status::NoAnswer
                    ),
                "boxed copy of {text:?} graded {verdict:?}"
            );
        }
        // Never panics, in either role.
        let other = random_expr(&mut rng, 3);
        let _ = grade(&text, &other);
        let _ = grade(&other, &text);
    }
    assert!(parsed > 1000, "only {parsed} random answers parsed");
}

#[test]
fn equivalence_of_plain_values_is_symmetric() {
    // Symmetric where the rules are: numbers, expressions, sets, tuples (not relation-vs-set or
    // assignment unwrapping, which are deliberately gold-guided).
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let options = MathOptions::default();
    let ctx = GradeContext::default();
    let mut agreeing = 0;
    for _ in 0..3000 {
        let a = random_expr(&mut rng, 3);
        let b = random_expr(&mut rng, 3);
        if a.contains('=') || a.contains("\\le") || b.contains('=') || b.contains("\\le") {
            continue;
        }
        let (Some(x), Some(y)) = (
            extract_answer(&a, &options.gold, false).answer,
            extract_answer(&b, &options.gold, false).answer,
        ) else {
            continue;
        };
        let forward = equivalent(&x.expr, &y.expr, &options.rules, &ctx);
        let backward = equivalent(&y.expr, &x.expr, &options.rules, &ctx);
        assert_eq!(forward, backward, "asymmetric: {a:?} vs {b:?}");
        if forward == Ok(true) {
            agreeing += 1;
        }
    }
    println!("{agreeing} random pairs were equivalent");
}
