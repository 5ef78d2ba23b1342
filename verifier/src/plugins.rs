//! Grader plugins at the edge: reads the files `--plugin NAME=PATH` names, bakes the Python
//! plugins into a sandbox pool of their own, compiles component plugins into the sandbox cache,
//! and loads each as a grader (`graders::plugin` owns what a plugin call means).
//!
//! The plugins' pool is apart from the code grader's: a candidate's program runs where no
//! plugin is importable, and a plugin runs where the code harness is not.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use graders::code::{ExecOutcome, ExecRequest, Executor};
use graders::plugin::{
    ComponentCall, ComponentOutcome, ComponentPlugin, ComponentRunner, PluginLimits, PythonPlugin,
    RUNNER_MODULE,
};
use graders::{Grader, Registry};
use sandboxes::{Limits, PoolStats, PythonModule, RunRequest};

use crate::code_executor::{to_outcome, to_run_request, SandboxExecutor};

/// `--plugin NAME=PATH`: a plugin and the file (or folder) it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    pub name: String,
    pub path: PathBuf,
}

impl FromStr for PluginSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, path) = match text.split_once('=') {
            Some((name, path)) => (name.to_string(), PathBuf::from(path)),
            // `--plugin path/json_schema.py` names the plugin after its file.
            None => {
                let path = PathBuf::from(text);
                let stem = path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .unwrap_or("")
                    .to_string();
                (stem, path)
            }
        };
        graders::plugin::check_name(&name)?;
        Ok(PluginSpec { name, path })
    }
}

/// `--plugin-limits NAME:time_limit_ms=2000,memory_limit_mb=128,output_limit_kb=64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsOverride {
    pub name: String,
    pub settings: Vec<(String, u64)>,
}

impl FromStr for LimitsOverride {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected NAME:key=value,... with keys time_limit_ms, memory_limit_mb, \
                     output_limit_kb";
        let (name, rest) = text.split_once(':').ok_or(usage)?;
        let mut settings = Vec::new();
        for setting in rest.split(',') {
            let (key, value) = setting.split_once('=').ok_or(usage)?;
            let value = value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{key}: {value:?} is not a whole number ({usage})"))?;
            if !["time_limit_ms", "memory_limit_mb", "output_limit_kb"].contains(&key.trim()) {
                return Err(format!("unknown limit {key:?} ({usage})"));
            }
            settings.push((key.trim().to_string(), value));
        }
        Ok(LimitsOverride {
            name: name.to_string(),
            settings,
        })
    }
}

/// The plugin options every command that grades takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PluginArgs {
    /// Load a grader plugin: NAME=file.py, NAME=folder (with __init__.py) or NAME=file.wasm (a
    /// component of wit/grader.wit); it grades tasks of `"kind": "NAME"`. Repeatable.
    #[arg(long = "plugin", value_name = "NAME=PATH")]
    pub plugins: Vec<PluginSpec>,
    /// Set a plugin's per-call limits (over its own LIMITS), e.g.
    /// `style:time_limit_ms=2000,memory_limit_mb=128`. Repeatable.
    #[arg(long = "plugin-limits", value_name = "NAME:KEY=VALUE,...")]
    pub plugin_limits: Vec<LimitsOverride>,
}

/// What a plugin's path holds.
enum Source {
    Python(PythonModule),
    Component(Vec<u8>),
}

/// Reads a plugin: a `.py` file, a folder with `__init__.py` (its `.py` files, recursively) or
/// a `.wasm` component.
fn read_source(spec: &PluginSpec) -> anyhow::Result<Source> {
    let path = &spec.path;
    let module = PythonPlugin::module_name(&spec.name);
    let context = || format!("plugin `{}`: reading {}", spec.name, path.display());
    if path.is_dir() {
        if !path.join("__init__.py").is_file() {
            bail!(
                "plugin `{}`: the folder {} has no __init__.py (a folder plugin is a Python package)",
                spec.name,
                path.display()
            );
        }
        let mut files = Vec::new();
        collect_python_files(path, path, &mut files).with_context(context)?;
        return Ok(Source::Python(PythonModule::package(module, files)));
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("py") => {
            let source = std::fs::read_to_string(path).with_context(context)?;
            Ok(Source::Python(PythonModule::new(module, source)))
        }
        Some("wasm") => Ok(Source::Component(
            std::fs::read(path).with_context(context)?,
        )),
        _ => bail!(
            "plugin `{}`: {} is not a .py file, a folder with __init__.py or a .wasm component",
            spec.name,
            path.display()
        ),
    }
}

fn collect_python_files(
    root: &Path,
    folder: &Path,
    files: &mut Vec<(String, String)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name != "__pycache__" && !name.starts_with('.') {
            collect_python_files(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "py") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let relative = relative.to_string_lossy().replace('\\', "/");
            files.push((relative, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

/// The plugins' sandbox pool: Python plugins' calls and component calls, with memory capped
/// at the operator's `--max-memory-mb`.
pub struct PluginSandbox {
    executor: SandboxExecutor,
    /// Each component plugin's compiled file, by plugin name.
    compiled: HashMap<String, PathBuf>,
    max_memory_mb: u64,
}

impl Executor for PluginSandbox {
    fn execute(&self, mut request: ExecRequest) -> ExecOutcome {
        request.memory_limit_mb = request.memory_limit_mb.min(self.max_memory_mb);
        to_outcome(self.executor.run(to_run_request(request)))
    }
}

impl ComponentRunner for PluginSandbox {
    fn call(&self, call: ComponentCall) -> ComponentOutcome {
        let Some(compiled) = self.compiled.get(&call.component) else {
            return ComponentOutcome {
                ending: graders::code::Ending::Error(format!(
                    "no component is loaded as `{}`",
                    call.component
                )),
                returned: None,
                truncated: false,
            };
        };
        let limits = Limits {
            time_limit_ms: call.limits.time_limit_ms,
            memory_limit_bytes: call.limits.memory_limit_mb.min(self.max_memory_mb) << 20,
            stdout_limit_bytes: (call.limits.output_limit_kb as usize).saturating_mul(1024),
            ..Limits::default()
        };
        let mut run = RunRequest::component(sandboxes::ComponentCall {
            compiled: compiled.clone(),
            function: call.function,
            args: call.args,
        })
        .with_limits(limits);
        run.wall_limit_ms = call.wall_limit_ms;
        let mut result = self.executor.run(run);
        let mut returned = result.returned.take();
        let mut truncated = result.stdout_truncated;
        // What an export returns counts against the output limit, as a Python plugin's record.
        let size = returned.as_ref().map_or(0, |value| value.to_string().len());
        if size > limits.stdout_limit_bytes {
            (returned, truncated) = (None, true);
        }
        ComponentOutcome {
            ending: to_outcome(result).ending,
            returned,
            truncated,
        }
    }
}

/// Loads every plugin `args` names into `registry` (their names must not be a built-in's):
/// builds (or finds cached) the plugins' sandbox, then reads each plugin's own description.
/// Returns the loaded plugins, for `verifier plugin check`.
pub fn load_into(
    registry: &mut Registry,
    args: &PluginArgs,
    max_memory_mb: u64,
    workers: Option<usize>,
) -> anyhow::Result<Vec<LoadedPlugin>> {
    if args.plugins.is_empty() {
        if let Some(unused) = args.plugin_limits.first() {
            bail!(
                "--plugin-limits names `{}`, but no --plugin is loaded",
                unused.name
            );
        }
        return Ok(Vec::new());
    }
    let started = Instant::now();
    let mut python = vec![PythonModule::new(RUNNER_MODULE.0, RUNNER_MODULE.1)];
    let mut compiled = HashMap::new();
    let mut kinds = Vec::new();
    let mut source_names = HashMap::new();
    for spec in &args.plugins {
        let file_name = spec
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let source_name = match file_name {
            Some(name) if spec.path.is_dir() => format!("{name}/"),
            Some(name) => name,
            None => spec.path.display().to_string(),
        };
        source_names.insert(spec.name.clone(), source_name);
        if registry.get(&spec.name).is_some() || kinds.iter().any(|(n, _)| n == &spec.name) {
            bail!(
                "plugin `{}`: the name is taken (by a built-in grader or another --plugin); \
                 choose another, it is the task `kind` the plugin grades",
                spec.name
            );
        }
        match read_source(spec)? {
            Source::Python(module) => {
                python.push(module);
                kinds.push((spec.name.clone(), true));
            }
            Source::Component(bytes) => {
                let file = sandboxes::compile_component(&sandboxes::default_cache_dir(), &bytes)
                    .with_context(|| format!("plugin `{}` ({})", spec.name, spec.path.display()))?;
                compiled.insert(spec.name.clone(), file);
                kinds.push((spec.name.clone(), false));
            }
        }
    }
    for unused in &args.plugin_limits {
        if !kinds.iter().any(|(name, _)| name == &unused.name) {
            bail!(
                "--plugin-limits names `{}`, which no --plugin loads",
                unused.name
            );
        }
    }
    let command =
        sandboxes::WorkerCommand::current_exe().context("locating the verifier executable")?;
    let executor =
        SandboxExecutor::start_with(command, workers, Arc::new(PoolStats::default()), python)
            .context(
            "building the plugins' sandbox (a Python plugin that fails to import says why above)",
        )?;
    let sandbox = Arc::new(PluginSandbox {
        executor,
        compiled,
        max_memory_mb: max_memory_mb.max(1),
    });
    let mut loaded = Vec::new();
    for (name, is_python) in kinds {
        let overrides = args.plugin_limits.iter().filter(|o| o.name == name);
        let plugin = if is_python {
            let plugin = PythonPlugin::load(&name, sandbox.clone()).map_err(anyhow::Error::msg)?;
            if let Some(warning) = plugin.code_execution_warning() {
                tracing::warn!("{warning}");
            }
            let limits = overridden(plugin.limits(), overrides)?;
            let plugin = plugin.with_limits(limits);
            let plugin = match source_names.get(&name) {
                Some(source) => plugin.with_source_name(source.clone()),
                None => plugin,
            };
            LoadedPlugin::Python(Arc::new(plugin))
        } else {
            let limits = overridden(PluginLimits::default(), overrides)?;
            let plugin = ComponentPlugin::load(&name, limits, sandbox.clone())
                .map_err(anyhow::Error::msg)?;
            LoadedPlugin::Component(Arc::new(plugin))
        };
        registry.insert(plugin.grader());
        loaded.push(plugin);
    }
    tracing::info!(
        "plugins: {} loaded, sandbox ready in {:.1} s",
        loaded
            .iter()
            .map(|p| p.grader().info().kind)
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(loaded)
}

fn overridden<'a>(
    mut limits: PluginLimits,
    overrides: impl Iterator<Item = &'a LimitsOverride>,
) -> anyhow::Result<PluginLimits> {
    for over in overrides {
        for (key, value) in &over.settings {
            match key.as_str() {
                "time_limit_ms" => limits.time_limit_ms = *value,
                "memory_limit_mb" => limits.memory_limit_mb = *value,
                _ => limits.output_limit_kb = *value,
            }
        }
        limits = limits
            .checked()
            .map_err(|e| anyhow::anyhow!("--plugin-limits {}: {e}", over.name))?;
    }
    Ok(limits)
}

/// A loaded plugin, by kind.
#[derive(Clone)]
pub enum LoadedPlugin {
    Python(Arc<PythonPlugin>),
    Component(Arc<ComponentPlugin>),
}

impl LoadedPlugin {
    pub fn grader(&self) -> Arc<dyn Grader> {
        match self {
            LoadedPlugin::Python(plugin) => plugin.clone(),
            LoadedPlugin::Component(plugin) => plugin.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_kind_and_a_path() {
        let spec: PluginSpec = "style=plugins/s.py".parse().unwrap();
        assert_eq!(spec.name, "style");
        assert_eq!(spec.path, PathBuf::from("plugins/s.py"));
        let spec: PluginSpec = "examples/plugins/json_schema.py".parse().unwrap();
        assert_eq!(spec.name, "json_schema");
        assert!("Bad-Name=x.py".parse::<PluginSpec>().is_err());
    }

    #[test]
    fn limits_overrides_are_checked() {
        let over: LimitsOverride = "s:time_limit_ms=200,memory_limit_mb=64".parse().unwrap();
        let limits = overridden(PluginLimits::default(), [&over].into_iter()).unwrap();
        assert_eq!((limits.time_limit_ms, limits.memory_limit_mb), (200, 64));
        assert!("s:speed=3".parse::<LimitsOverride>().is_err());
        assert!("s".parse::<LimitsOverride>().is_err());
        let zero: LimitsOverride = "s:time_limit_ms=0".parse().unwrap();
        assert!(overridden(PluginLimits::default(), [&zero].into_iter()).is_err());
    }
}
