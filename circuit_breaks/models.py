"""Circuit breaks: the policy, holds and their review flow arrive with the circuit-break issues."""
