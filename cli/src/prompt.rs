//! Reading secrets without putting them in shell history: prompts on the
//! terminal, or one line from stdin for scripts.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};

/// One line from stdin, without its line ending.
pub fn stdin_line(what: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).with_context(|| format!("cannot read the {what} from stdin"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        bail!("no {what} on stdin");
    }
    Ok(line)
}

/// Asks for a secret on the terminal without echoing it.
pub fn secret(label: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("cannot prompt for the {label}: stdin is not a terminal (use the --*-stdin flags in scripts)");
    }
    let value = rpassword::prompt_password(format!("{label}: ")).context("cannot read from the terminal")?;
    if value.is_empty() {
        bail!("the {label} is empty");
    }
    Ok(value)
}

/// Asks twice for a new secret and checks both answers match.
pub fn new_secret(label: &str) -> Result<String> {
    let first = secret(label)?;
    let again = secret(&format!("{label} (again)"))?;
    if first != again {
        bail!("the two entries differ");
    }
    Ok(first)
}

/// Asks for a visible value (a user name) on the terminal.
pub fn visible(label: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("cannot prompt for the {label}: stdin is not a terminal (pass it as an option)");
    }
    eprint!("{label}: ");
    std::io::stderr().flush()?;
    stdin_line(label)
}

/// Asks a yes/no question on the terminal; anything but `y`/`yes` is no.
pub fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} Refusing without a terminal: pass --yes");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
