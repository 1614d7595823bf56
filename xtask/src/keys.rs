//! `cargo xtask keys`: the local stack's API keys, shell-sourceable.

use crate::topology;

pub fn render() -> String {
    format!(
        "# Local stack keys: HS256 JWTs signed with the local JWT secret shared by PostgREST\n\
         # and the gateway. Load them with: eval \"$(cargo xtask keys)\"\n\
         ANON_KEY={}\n\
         SERVICE_ROLE_KEY={}\n",
        topology::anon_key(),
        topology::service_role_key()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_sourceable_assignments() {
        let text = render();
        let assignments: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(assignments.len(), 2);
        for line in assignments {
            let (name, value) = line.split_once('=').unwrap();
            assert!(["ANON_KEY", "SERVICE_ROLE_KEY"].contains(&name));
            // JWT characters need no shell quoting.
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            );
        }
    }
}
