//! The `iam-audit` binary: everything lives in the library; see `iam_audit::cli`.

fn main() -> std::process::ExitCode {
    iam_audit::cli::main()
}
