//! The sandbox's peers (a second instance that the main program calls through the host), each
//! instance's own clock, the whole run's wall limit, and waits (`sleep`) that end at the limit.

use std::time::Instant;

use sandboxes::{Language, Limits, Outcome, PeerRequest, RunRequest, RunResult, Sandbox};

fn run_with(request: RunRequest) -> RunResult {
    thread_local! {
        static SANDBOX: Sandbox = Sandbox::new().expect("sandbox runtimes set up");
    }
    SANDBOX.with(|sandbox| sandbox.run(&request))
}

fn limits(time_limit_ms: u64) -> Limits {
    Limits {
        time_limit_ms,
        ..Limits::default()
    }
}

/// A peer that answers each message with its upper-case form, after spinning `spin_ms`.
fn echo_peer(spin_ms: u64, time_limit_ms: u64) -> PeerRequest {
    let program = format!(
        "import sandbox_peer, time\n\
         def handle(message):\n\
         \x20   end = time.perf_counter() + {spin_ms} / 1000\n\
         \x20   while time.perf_counter() < end:\n\
         \x20       pass\n\
         \x20   return message.upper()\n\
         sandbox_peer.serve(handle)\n"
    );
    PeerRequest {
        program,
        stdin: String::new(),
        limits: limits(time_limit_ms),
    }
}

#[test]
fn the_main_program_calls_its_peer_and_is_not_charged_for_its_time() {
    // Three calls of 200 ms each in the peer: 600 ms, more than the main program's 400 ms.
    let program = "import sandbox_peer\n\
                   print([sandbox_peer.call(m) for m in ('a', 'b', 'c')])\n";
    let request = RunRequest::new(Language::Python, program)
        .with_limits(limits(400))
        .with_peer(echo_peer(200, 5_000));
    let result = run_with(request);
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout.trim(), "['A', 'B', 'C']");
    let peer = result.peer.expect("the peer's result");
    assert_eq!(peer.outcome, Outcome::Finished);
    assert!(peer.wall_ms >= 600.0, "peer charged {} ms", peer.wall_ms);
}

#[test]
fn a_peer_out_of_time_fails_every_later_call_and_the_main_program_goes_on() {
    let program = "import sandbox_peer\n\
                   for m in ('a', 'b'):\n\
                   \x20   try:\n\
                   \x20       sandbox_peer.call(m)\n\
                   \x20   except sandbox_peer.PeerError as e:\n\
                   \x20       print(e.args[0])\n";
    let request = RunRequest::new(Language::Python, program)
        .with_limits(limits(2_000))
        .with_peer(echo_peer(10_000, 300));
    let result = run_with(request);
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout, "time-limit\ntime-limit\n");
    assert_eq!(result.peer.unwrap().outcome, Outcome::TimeLimit);
}

#[test]
fn a_peer_cannot_call_a_peer_and_a_run_without_one_is_told_so() {
    let peer = PeerRequest {
        program: "import sandbox_peer\n\
                  def handle(m):\n\
                  \x20   try:\n\
                  \x20       return sandbox_peer.call('x')\n\
                  \x20   except sandbox_peer.PeerError as e:\n\
                  \x20       return 'refused: ' + e.args[0]\n\
                  sandbox_peer.serve(handle)\n"
            .into(),
        stdin: String::new(),
        limits: limits(1_000),
    };
    let program = "import sandbox_peer\nprint(sandbox_peer.call('m'))\n";
    let result = run_with(RunRequest::new(Language::Python, program).with_peer(peer));
    assert_eq!(result.stdout, "refused: no-peer\n", "{result:?}");
    let alone = "import sandbox_peer\ntry:\n    sandbox_peer.call('m')\nexcept sandbox_peer.PeerError as e:\n    print(e.args[0])\n";
    let result = run_with(RunRequest::new(Language::Python, alone));
    assert_eq!(result.stdout, "no-peer\n");
}

#[test]
fn the_wall_limit_ends_the_whole_run_whoever_is_running() {
    // Each instance is within its own 5 s, but the run as a whole may take 500 ms.
    let program = "import sandbox_peer\nsandbox_peer.call('a')\nwhile True:\n    pass\n";
    let started = Instant::now();
    let request = RunRequest::new(Language::Python, program)
        .with_limits(limits(5_000))
        .with_peer(echo_peer(300, 5_000))
        .with_wall_limit(500);
    let result = run_with(request);
    assert_eq!(result.outcome, Outcome::TimeLimit);
    assert!(started.elapsed().as_millis() < 1_500);
}

#[test]
fn sleeping_ends_at_the_time_limit_in_both_languages() {
    for (language, program) in [
        (Language::Python, "import time\ntime.sleep(1000)\n"),
        (Language::Javascript, "os.sleep(1000000);"),
        (Language::Javascript, "os.setTimeout(() => {}, 1e9);"),
    ] {
        let started = Instant::now();
        let result = run_with(RunRequest::new(language, program).with_limits(limits(300)));
        let took = started.elapsed().as_millis();
        assert_eq!(result.outcome, Outcome::TimeLimit, "{program}: {result:?}");
        assert!(took < 1_000, "{program}: {took} ms");
    }
    // A short wait still works.
    let result = run_with(
        RunRequest::new(Language::Javascript, "os.sleep(50); console.log('woke');")
            .with_limits(limits(1_000)),
    );
    assert_eq!(result.stdout, "woke\n");
    let result = run_with(
        RunRequest::new(
            Language::Python,
            "import time\ntime.sleep(0.05)\nprint('woke')\n",
        )
        .with_limits(limits(1_000)),
    );
    assert_eq!(result.stdout, "woke\n");
}

/// A JavaScript peer answering each message with its upper-case form, after spinning `spin_ms`.
fn javascript_echo_peer(spin_ms: u64, time_limit_ms: u64) -> PeerRequest {
    PeerRequest {
        program: format!(
            "sandboxPeer.serve((message) => {{\n\
             \x20 const end = Date.now() + {spin_ms};\n\
             \x20 while (Date.now() < end) {{}}\n\
             \x20 return message.toUpperCase();\n\
             }});\n"
        ),
        stdin: String::new(),
        limits: limits(time_limit_ms),
    }
}

#[test]
fn a_javascript_program_calls_its_peer_and_is_not_charged_for_its_time() {
    // Text crosses both ways as UTF-8, whatever it holds.
    let program = "const out = ['a', 'é€𝄞', '%41\\n\\u0000x'].map((m) => sandboxPeer.call(m));\n\
                   console.log(JSON.stringify(out));\n";
    let request = RunRequest::new(Language::Javascript, program)
        .with_limits(limits(400))
        .with_peer(javascript_echo_peer(200, 5_000));
    let result = run_with(request);
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout.trim(), r#"["A","É€𝄞","%41\n\u0000X"]"#);
    let peer = result.peer.expect("the peer's result");
    assert_eq!(peer.outcome, Outcome::Finished);
    assert!(peer.wall_ms >= 600.0, "peer charged {} ms", peer.wall_ms);
}

#[test]
fn a_javascript_peer_runs_afresh_for_each_call_and_a_large_message_crosses_whole() {
    let peer = PeerRequest {
        program: "globalThis.calls = (globalThis.calls || 0) + 1;\n\
                  sandboxPeer.serve((m) => calls + ':' + m.length);\n"
            .into(),
        stdin: String::new(),
        limits: limits(5_000),
    };
    let program = "const big = 'x'.repeat(300000) + 'ü';\n\
                   console.log(sandboxPeer.call(big), sandboxPeer.call(''));\n";
    let result = run_with(
        RunRequest::new(Language::Javascript, program)
            .with_limits(limits(5_000))
            .with_peer(peer),
    );
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout.trim(), "1:300001 1:0");
}

#[test]
fn a_javascript_peer_that_ends_fails_every_later_call_with_the_reason() {
    let cases = [
        ("sandboxPeer.serve(() => { for (;;) {} });", "time-limit"),
        ("sandboxPeer.serve(() => { std.exit(3); });", "exited: 3"),
        (
            "sandboxPeer.serve(() => { const s = 'x'.repeat(1 << 20), a = []; for (;;) a.push(s + a.length); });",
            "memory-limit",
        ),
    ];
    for (peer_program, why) in cases {
        let program = "for (const m of ['a', 'b']) {\n\
                       \x20 try { sandboxPeer.call(m); } catch (e) { console.log(e.name + ' ' + e.message); }\n\
                       }\n";
        let peer = PeerRequest {
            program: peer_program.into(),
            stdin: String::new(),
            limits: Limits {
                time_limit_ms: 300,
                memory_limit_bytes: 64 << 20,
                ..Limits::default()
            },
        };
        let result = run_with(
            RunRequest::new(Language::Javascript, program)
                .with_limits(limits(2_000))
                .with_peer(peer),
        );
        assert_eq!(result.outcome, Outcome::Finished, "{why}: {result:?}");
        assert_eq!(
            result.stdout,
            format!("PeerError {why}\nPeerError {why}\n"),
            "{why}"
        );
    }
}

#[test]
fn a_javascript_peer_that_throws_or_never_answers_is_told_apart_and_can_answer_again() {
    let peer = PeerRequest {
        program: "sandboxPeer.serve((m) => { if (m === 'throw') throw new RangeError('no'); \
                  if (m === 'number') return 5; return 'ok ' + m; });\n\
                  if (false) sandboxPeer.serve(() => '');\n"
            .into(),
        stdin: String::new(),
        limits: limits(2_000),
    };
    let program = "for (const m of ['throw', 'number', 'x']) {\n\
                   \x20 try { console.log(sandboxPeer.call(m)); } catch (e) { console.log(e.message); }\n\
                   }\n";
    let result = run_with(
        RunRequest::new(Language::Javascript, program)
            .with_limits(limits(2_000))
            .with_peer(peer),
    );
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(
        result.stdout,
        "raised: RangeError\nraised: the handler returned no string\nok x\n"
    );
    let silent = PeerRequest {
        program: "console.log('no serve here');".into(),
        stdin: String::new(),
        limits: limits(2_000),
    };
    let result = run_with(
        RunRequest::new(
            Language::Javascript,
            "try { sandboxPeer.call('x') } catch (e) { console.log(e.message) }",
        )
        .with_peer(silent),
    );
    assert_eq!(result.stdout, "no-handler\n", "{result:?}");
    // Without a peer there is no channel: the descriptor is just a bad one.
    let result = run_with(RunRequest::new(
        Language::Javascript,
        "console.log(os.write(1073741824, new ArrayBuffer(1), 0, 1))",
    ));
    assert_eq!(result.stdout, "-8\n", "{result:?}");
}
