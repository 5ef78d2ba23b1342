//! Hostile inputs for the math grader, and a seeded property test over thousands of random
//! answers: no panic, bounded time, `a` equivalent to itself, equivalence symmetric where the
//! rules are symmetric.
//!
//! Every hostile input (up to 1 MB) is graded as a completion and as a gold answer; the test
//! prints its time and the peak of the memory allocated while grading it, measured by a
//! counting allocator, and fails above 64 MB. Time bounds here are generous (debug builds on a
//! shared 2-core machine); the benchmark (`cargo bench -p graders --bench math`) measures the
//! real figures in a release build.

use std::time::{Duration, Instant};

use graders::contract::{MathTask, Status, Task};
use graders::math::{equivalent, extract_answer, MathOptions};
use graders::{GradeContext, Grader, Verdict};

/// The most memory one grading may allocate at once (issue 3).
const MAX_PEAK_BYTES: usize = 64 << 20;

/// A loose bound on one grading: a hang, not a figure (release builds take a few milliseconds
/// at most; debug builds on a busy CI machine up to a few hundred).
const TIME_BOUND: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(2)
} else {
    Duration::from_millis(500)
};

/// A counting allocator: `System`, plus per-thread counts of the bytes allocated and not yet
/// freed, and of their peak. Per thread because the test harness runs tests in parallel
/// threads, and one grading runs on one thread.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        // `const` and without destructors: safe to touch from inside the allocator.
        static CURRENT: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn record(delta: isize) {
        let _ = CURRENT.try_with(|current| {
            let now = current.get() + delta;
            current.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    pub struct Counting;

    // SAFETY: every call is forwarded to `System` unchanged; the counters are only arithmetic.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = System.alloc(layout);
            if !p.is_null() {
                record(layout.size() as isize);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = System.alloc_zeroed(layout);
            if !p.is_null() {
                record(layout.size() as isize);
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout);
            record(-(layout.size() as isize));
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let p = System.realloc(ptr, layout, new_size);
            if !p.is_null() {
                record(new_size as isize - layout.size() as isize);
            }
            p
        }
    }

    /// Runs `f` and returns its result and the peak of the bytes it had allocated at once on
    /// this thread (beyond what was allocated before it started).
    pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = CURRENT.with(Cell::get);
        PEAK.with(|peak| peak.set(base));
        let out = f();
        let peak = PEAK.with(Cell::get) - base;
        (out, peak.max(0) as usize)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

#[path = "../../graders/benches/support/hostile_math.rs"]
mod hostile_math;
use hostile_math::hostile_inputs;

/// One grading: the verdict, its time and its peak allocation.
fn grade(completion: &str, gold: &str) -> (Verdict, Duration, usize) {
    let task = Task::Math(MathTask {
        answer: gold.to_string(),
        options: Default::default(),
    });
    let start = Instant::now();
    let (verdict, peak) = counting::peak_during(|| {
        graders::math::MathGrader.grade(completion, &task, &GradeContext::default())
    });
    (verdict, start.elapsed(), peak)
}

#[test]
fn hostile_inputs_neither_panic_nor_hang_nor_hoard_memory() {
    let mut worst = Duration::ZERO;
    println!(
        "{:<30} {:>9} {:>12} {:>12} {:>12}",
        "hostile input", "bytes", "worst time", "peak alloc", "as gold"
    );
    for (name, input) in hostile_inputs() {
        let mut slowest = Duration::ZERO;
        let mut peak = 0;
        // Golds that no hostile input spells: a plain-number fallback may still find a `1` in a
        // megabyte of `\frac{1}{`, which is an answer of 1, not a hack.
        for gold in ["5", r"\frac{1}{2}", r"2^{2^{2}}"] {
            let (verdict, elapsed, bytes) = grade(&input, gold);
            slowest = slowest.max(elapsed);
            peak = peak.max(bytes);
            assert_ne!(
                verdict.status,
                Status::Correct,
                "{name} must not score against {gold}"
            );
            assert!(elapsed < TIME_BOUND, "{name} took {elapsed:?}");
        }
        // Hostile gold answers are errors or wrong, never a hang.
        let (_, as_gold, gold_peak) = grade(r"\boxed{1}", &input);
        assert!(as_gold < TIME_BOUND, "{name} as gold took {as_gold:?}");
        println!(
            "{name:<30} {:>9} {slowest:>12.2?} {:>9.2} MB {as_gold:>12.2?} (peak {:.2} MB)",
            input.len(),
            peak as f64 / (1 << 20) as f64,
            gold_peak as f64 / (1 << 20) as f64,
        );
        for (role, bytes) in [("completion", peak), ("gold", gold_peak)] {
            assert!(
                bytes <= MAX_PEAK_BYTES,
                "{name} as {role} allocated {bytes} bytes at once, over {MAX_PEAK_BYTES}"
            );
        }
        worst = worst.max(slowest).max(as_gold);
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
            let (verdict, _, _) = grade(&format!("\\boxed{{{text}}}"), &text);
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

/// Grades `completion` against `gold` and asserts it is right.
fn expect_correct(completion: &str, gold: &str) {
    let (verdict, _, _) = grade(completion, gold);
    assert_eq!(
        verdict.status,
        Status::Correct,
        "{completion} against {gold}: {verdict:?}"
    );
}

/// Grades `completion` against `gold` and asserts it is wrong.
fn expect_incorrect(completion: &str, gold: &str) {
    let (verdict, _, _) = grade(completion, gold);
    assert_eq!(
        verdict.status,
        Status::Incorrect,
        "{completion} against {gold}: {verdict:?}"
    );
}

/// Grades each (completion, gold) and asserts the status is `want`.
fn expect_each(cases: &[(&str, &str)], want: Status) {
    for (completion, gold) in cases {
        let (verdict, _, _) = grade(completion, gold);
        assert_eq!(
            verdict.status, want,
            "{completion} against {gold}: {verdict:?}"
        );
    }
}

/// Answers whose value is past f64's range, against golds of every shape (red team). An
/// overflow to infinity was within any relative tolerance of anything, so
/// `|\frac{3}{2}\cdot 10^{308}(1+i)|` matched almost every gold, and an exact `10^{400}` every
/// irrational one. Values that cannot be told apart in floating point never match now; exact
/// values still compare exactly, however large.
#[test]
fn answers_past_floating_point_match_nothing() {
    let huge = [
        r"|\frac{3}{2}\cdot 10^{308}(1+i)|",
        r"10^{400}",
        r"-10^{400}",
        r"171!",
        r"\sqrt{10^{700}}",
        r"\frac{2^{1100}}{3}",
        r"10^{400}\pi",
        r"|10^{308}\cdot 2 + 10^{308}i| - 10^{308}",
        // Finite parts, infinite norm (round 2 of the red team).
        r"\frac{3}{2}\cdot 10^{308}(1+i)",
        r"2e^{709}(1+i)",
    ];
    let golds = [
        "42",
        r"\frac{17}{3}",
        r"2\sqrt{3}",
        "x^2+1",
        "-7",
        "0",
        r"\frac{\pi}{4}",
        r"\ln 2",
        "e^{2}",
        "3+4i",
        r"28\%",
        "1.5",
        r"\sqrt[3]{2}",
        r"2^{100}",
    ];
    for value in huge {
        let shaped = [
            format!(r"\boxed{{{value}}}"),
            format!(r"\boxed{{x = {value}}}"),
        ];
        for gold in golds {
            for completion in &shaped {
                expect_incorrect(completion, gold);
            }
        }
        for (completion, gold) in [
            (format!(r"\boxed{{({value}, {value})}}"), "(2, -1)"),
            (format!(r"\boxed{{x \le {value}}}"), r"x \le 3"),
            (format!(r"\boxed{{[{value}, {value})}}"), "[2, 5)"),
            (format!(r"\boxed{{x = {value}}}"), "x = 4"),
        ] {
            expect_incorrect(&completion, gold);
        }
    }
    let h = r"\frac{3}{2}\cdot 10^{308}(1+i)";
    for (completion, gold) in [
        (format!(r"\boxed{{({h},{h},{h})}}"), r"(3,-1,\frac12)"),
        (
            format!(r"\boxed{{[{h},{h})\cup[{h},{h}]}}"),
            r"[1,2)\cup[3,4]",
        ),
        (format!(r"\boxed{{f(x)={h}}}"), "f(x)=3x^2-1"),
        (format!(r"\boxed{{x={h}, y={h}}}"), "(6,5)"),
        (format!(r"\boxed{{{h}:{h}}}"), "1:2"),
        (
            format!(r"\boxed{{\begin{{pmatrix}}{h}&{h}\\{h}&{h}\end{{pmatrix}}}}"),
            r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
        ),
        (format!(r"\boxed{{\{{{h}\}}}}"), "7"),
    ] {
        expect_incorrect(&completion, gold);
    }
    // Exact values past f64's range are still themselves.
    for (completion, gold) in [
        (r"\boxed{10^{400}}", "10^{400}"),
        (r"\boxed{2^{1100}}", r"2^{1000}\cdot 2^{100}"),
        (r"\boxed{171!}", r"171\cdot 170!"),
    ] {
        expect_correct(completion, gold);
    }
}

/// A relation whose side is vanishingly small: the ratio of the two sides' differences
/// underflowed to NaN at every probe point, and NaN passes no tolerance test, so `10^{-200}x=0`
/// was proportional to every equation (red team, round 2), and `10^{-200}x<0` to many
/// inequalities.
#[test]
fn a_vanishing_relation_is_proportional_to_nothing() {
    for gold in [
        "y=2x+1",
        "x=5",
        "x=-3",
        "x^2+y^2=25",
        "3x-4y+7=0",
        r"x=\frac{\pi}{3}",
        "f(x)=x^2+1",
    ] {
        for completion in [r"\boxed{10^{-200}x=0}", r"\boxed{10^{-200}z=0}"] {
            expect_incorrect(completion, gold);
        }
    }
    for (completion, gold) in [
        (r"\boxed{10^{-200}x<0}", "x<3"),
        (r"\boxed{10^{-200}x<0}", "y>2x"),
        (r"\boxed{10^{-200}x\le0}", r"x\le2"),
        (r"\boxed{10^{-200}x>0}", "x>-2"),
    ] {
        expect_incorrect(completion, gold);
    }
    // A small but honest scaling is still the same equation.
    let (verdict, _, _) = grade(r"\boxed{10^{-20}y=10^{-20}(2x+1)}", "y=2x+1");
    assert_eq!(verdict.status, Status::Correct, "{verdict:?}");
}

/// Round 3 of the red team: tolerances that were wider than the values they compared.
/// - An absolute floor of 1e-12 for every approximation let `0\pi` or `\sin(0)` match any gold
///   smaller than that (`6.626 \times 10^{-34}`); it is now only for noise around an exact zero.
/// - Proportional relations compared exact ratios with a 3e-5 tolerance, so a constant off by
///   1e-5 was the same equation; exact sides now have exact ratios.
/// - An undefined function's approximate argument was hashed to 9 decimals through a cast that
///   saturates above ~9.2e9, so `f(10^{20}\pi)` was `f(10^{30}\pi)`.
#[test]
fn tolerances_do_not_outgrow_the_values_they_compare() {
    expect_each(
        &[
            (r"\boxed{\pi \cdot 10^{-50}}", r"6.626 \times 10^{-34}"),
            (r"\boxed{\sin(0)}", r"1.6 \times 10^{-19}"),
            (r"\boxed{0\cdot\pi}", "10^{-15}"),
            (r"\boxed{\frac{\pi}{10^{20}}}", r"\frac{1}{10^{13}}"),
            (r"\boxed{-\frac{\pi}{10^{13}}}", r"2 \times 10^{-13}"),
            (r"\boxed{0\pi}", r"\frac{6.626 \times 10^{-34}}{2\pi}"),
            (r"\boxed{y = 2x + 1 + \frac{1}{100000}}", "y = 2x + 1"),
            (r"\boxed{x + y = \frac{1000001}{100000}}", "x + y = 10"),
            (
                r"\boxed{x^2 + y^2 = \frac{2500001}{100000}}",
                "x^2 + y^2 = 25",
            ),
            (r"\boxed{y = 100x + 50.001}", "y = 100x + 50"),
            (r"\boxed{x^2+y^2=1.00001}", "x^2+y^2=1"),
            (r"\boxed{f(10^{30}\pi)}", r"f(10^{20}\pi)"),
        ],
        Status::Incorrect,
    );
    // What the tolerances are for still holds.
    expect_each(
        &[
            (r"\boxed{\sin(\pi)}", "0"),
            (r"\boxed{2y = 4x + 2}", "y = 2x + 1"),
            (r"\boxed{21y = 7x + 3}", r"y = \frac{x}{3} + \frac{1}{7}"),
            (r"\boxed{y = \sqrt{2}x + \pi}", r"2y = 2\sqrt{2}x + 2\pi"),
            (r"\boxed{f(0.1+0.2)}", "f(0.3)"),
            (r"\boxed{6.626 \times 10^{-34}}", r"6.626 \times 10^{-34}"),
        ],
        Status::Correct,
    );
}

/// An exact zero term (`+0\pi`, `\cdot e^0`, `+\ln 1`) made an answer approximate, and an
/// approximation met an exact gold within 1e-9 relative: big integers took near misses
/// (`123456789112 + 0\pi` for 123456789012; red team). Such terms are exact now, and an
/// approximation meets an exact value within its rounding only (1e-12 relative, 1e-3 absolute),
/// never past 2^53, where f64 cannot tell integers apart. Two approximations still meet within
/// 1e-9: forms with cancellation carry more rounding than 1e-12.
#[test]
fn an_approximation_does_not_stretch_an_exact_gold() {
    expect_each(
        &[
            (r"\boxed{123456789112 + 0\pi}", "123456789012"),
            (r"\boxed{18446744073709552000 + 0\pi}", "2^{64}"),
            (r"\boxed{1000000001+0\pi}", "1000000000"),
            (r"\boxed{1000000001\cdot e^{0}}", "1000000000"),
            (r"\boxed{1000000001+\ln 1}", "1000000000"),
            (r"\boxed{1000000001+\sin(0)}", "1000000000"),
            (r"\boxed{e^{20}}", "485165195"),
            (
                r"\boxed{\frac{1000000001}{3}+0\pi}",
                r"\frac{1000000000}{3}",
            ),
            // Bigger integers: an exact zero term is exact now; other approximations may lie at most
            // 1e-3 from a big integer (its neighbours are 1 away).
            (r"\boxed{1234567890124+0\pi}", "1234567890123"),
            (r"\boxed{12345678901235+0\pi}", "12345678901234"),
            (r"\boxed{2^{50}+1+0\pi}", "2^{50}"),
            (r"\boxed{1125899906842625\cos(0)}", "1125899906842624"),
            (r"\boxed{1234567890124+\cos\frac{\pi}{2}}", "1234567890123"),
            (r"\boxed{123456789112+\cos\frac{\pi}{2}}", "123456789012"),
            (r"\boxed{e^{30}}", "10686474581524"),
            (r"\boxed{e^{30}}", "10686474581525"),
        ],
        Status::Incorrect,
    );
    expect_each(
        &[
            (r"\boxed{\sqrt{2}^2}", "2"),
            (r"\boxed{\log_2 16}", "4"),
            (r"\boxed{\sqrt[3]{27}}", "3"),
            (r"\boxed{\tan\frac{\pi}{4}}", "1"),
            (r"\boxed{123456789012 + 0\pi}", "123456789012"),
            (r"\boxed{e^{\ln 5}}", "5"),
            (r"\boxed{\cos(\pi)}", "-1"),
            (r"\boxed{\frac{\sqrt{3}}{2}}", r"\sin\frac{\pi}{3}"),
            (r"\boxed{2\sqrt{2}\pi}", r"\sqrt{8}\pi"),
            (r"\boxed{e^{i\pi}}", "-1"),
            (r"\boxed{(1+\sqrt{2})^{2}}", r"3+2\sqrt{2}"),
            // Cancellation: floating point's rounding here is past 1e-12 relative (red team, against
            // a tighter tolerance tried for two approximations).
            (r"\boxed{(\sqrt2-1)^{8}}", r"577-408\sqrt2"),
            (r"\boxed{\frac{1}{577+408\sqrt2}}", r"577-408\sqrt2"),
            (r"\boxed{(\sqrt2-1)^7}", r"169\sqrt2-239"),
            (
                r"\boxed{\sqrt{1000001}-1000}",
                r"\frac{1}{\sqrt{1000001}+1000}",
            ),
            // Exact again: an exact zero factor, a zeroth power, functions at 0 and 1.
            (r"\boxed{2^{53}\cos 0}", "2^{53}"),
            (
                r"\boxed{123456789012 + \sin 0 + \ln 1 - 0e}",
                "123456789012",
            ),
        ],
        Status::Correct,
    );
}

/// A set answer whose items each spend an evaluation's whole work budget: its items are
/// compared pairwise, so twenty of them took the comparison past a 10 s deadline, and the
/// sample came back `timeout`, which a trainer drops (red team). The comparison's work is
/// bounded as a whole now, and the answer that exhausts it is wrong, not a timeout.
#[test]
fn an_answer_too_costly_to_compare_is_wrong_not_a_timeout() {
    let costly = ["2999!"; 10].join("+");
    let factorials: Vec<String> = (0..20).map(|k| format!("x+{k}+{costly}")).collect();
    // Round 3: roots of big powers, each found and checked by powers.
    let roots: Vec<String> = (0..100)
        .map(|k| format!(r"(3^{{{}}})^{{\frac{{1}}{{7}}}}", 20_000 + k))
        .collect();
    // Round 4: sets of sets, each pair alike but for one item: ~10M comparisons cheap enough
    // that the work budget hardly noticed them (8.5 s, a `timeout` under a shorter deadline).
    let letters: Vec<String> = "abcdjklmnpqrstuvwxyzABCDEFGHJ"
        .chars()
        .map(String::from)
        .collect();
    let sets: Vec<String> = (0..125)
        .map(|i| {
            let mut items = letters.clone();
            if i % 2 == 1 {
                items.reverse();
            }
            items.push(i.to_string());
            format!(r"\{{{}\}}", items.join(","))
        })
        .collect();
    for (items, gold) in [
        (&factorials, r"\{1,2\}"),
        (&factorials, r"\{-1, 4\}"),
        (&factorials, r"\{\frac{1}{2}, \sqrt{2}\}"),
        (&roots, r"\{1,2\}"),
        (&sets, r"\{1,2\}"),
        (&sets, r"1, 2"),
        (&sets, r"2 \pm \sqrt{3}"),
    ] {
        let completion = format!(r"\boxed{{\{{{}\}}}}", items.join(","));
        let task = Task::Math(MathTask {
            answer: gold.to_string(),
            options: Default::default(),
        });
        let ctx = GradeContext::with_deadline(Instant::now() + Duration::from_secs(120));
        let started = Instant::now();
        let verdict = graders::math::MathGrader.grade(&completion, &task, &ctx);
        println!(
            "against {gold}: {:?} in {:?}",
            verdict.status,
            started.elapsed()
        );
        assert_eq!(verdict.status, Status::Incorrect, "{verdict:?}");
        assert!(
            verdict.details["reason"]
                .as_str()
                .is_some_and(|r| r.contains("work budget")),
            "{verdict:?}"
        );
    }
}

/// A gold longer than 1000 bytes (a set of 256 numbers, a tuple of 170 expressions) is read
/// whole: it fell back to its last number, which an answer of that number alone then matched,
/// and the right answer did not (red team).
#[test]
fn a_long_gold_is_read_whole() {
    let numbers: Vec<String> = (1..=256).map(|k| k.to_string()).collect();
    let set = format!(r"\{{{}\}}", numbers.join(", "));
    let terms: Vec<String> = (1..=170).map(|k| format!("x+{k}")).collect();
    let tuple = format!("({})", terms.join(", "));
    assert!(set.len() > 1000 && tuple.len() > 1000);
    expect_incorrect(r"\boxed{256}", &set);
    expect_incorrect(r"\boxed{x+170}", &tuple);
    expect_correct(&format!(r"\boxed{{{set}}}"), &set);
    expect_correct(&format!(r"\boxed{{{tuple}}}"), &tuple);
}

/// `\\` before a letter inside a matrix is a row break, not a command escaped twice: `\\c` was
/// read as `\c`, so a right compact matrix failed to parse (red team). Outside environments a
/// doubled backslash is still an escape (`\\frac`).
#[test]
fn a_row_break_inside_a_matrix_is_not_an_escaped_command() {
    let gold = r"\begin{pmatrix}a&b\\c&d\end{pmatrix}";
    expect_correct(r"$\boxed{\begin{pmatrix}a&b\\c&d\end{pmatrix}}$", gold);
    expect_incorrect(r"$\boxed{\begin{pmatrix}a&b\\d&c\end{pmatrix}}$", gold);
    expect_correct(r"$\\boxed{\\frac{1}{2}}$", r"\frac12");
}
