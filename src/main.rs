//! The `streetwatch` command line: a thin binary over the library (see `streetwatch::cli`).

fn main() -> std::process::ExitCode {
    streetwatch::cli::main()
}
