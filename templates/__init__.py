"""ppflow's templates (e-mail, portal, report) and wording catalogues, installed as the
package ``ppflow.templates``; this file only makes the folder importable in an editable
install (see setup.py)."""
