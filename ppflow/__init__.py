"""ppflow: onboarding of patient advisors into quality-improvement teams."""

__version__ = "0.1.0"
