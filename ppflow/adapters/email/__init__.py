"""E-mail: Jinja2 rendering, aiosmtplib sending, the aiosmtpd mail sink and its Maildir.

Nothing is built at import; :mod:`ppflow.bootstrap` builds what a caller needs.
"""
