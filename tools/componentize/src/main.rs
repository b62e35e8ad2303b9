//! `kubernetai-componentize CORE.wasm COMPONENT.wasm`: turns the core
//! module cargo builds into the component the Go host loads, and validates
//! the result.
//!
//! Why not `wasm-tools component new`: installing wasm-tools compiles a
//! whole toolbox (about 3.5 minutes on two cores) to use one function of
//! the `wit-component` crate, which wit-bindgen already depends on. This
//! binary is that function, and costs seconds on a cold build.

use std::{env, fs, process::ExitCode};

use wit_component::ComponentEncoder;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: kubernetai-componentize CORE.wasm COMPONENT.wasm");
        return ExitCode::from(2);
    };
    match componentize(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("kubernetai-componentize: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the module, encodes it as a component from the WIT world
/// wit-bindgen embedded in it, validates the component (the encoder's own
/// validation of every module and the result) and writes it.
fn componentize(input: &str, output: &str) -> Result<(), String> {
    let module = fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let component = ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|encoder| encoder.encode())
        .map_err(|e| format!("{input}: {e:#}"))?;
    fs::write(output, component).map_err(|e| format!("{output}: {e}"))
}
