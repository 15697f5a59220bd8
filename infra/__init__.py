"""Infrastructure definitions shared by deployment, local bootstrap and tests."""
