"""The workflow steps: question models, validation, synthesis and maths. Pure Python: no Slack, no database."""
