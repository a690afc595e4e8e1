use std::process::ExitCode;

fn main() -> ExitCode {
    remitd::cli::main()
}
