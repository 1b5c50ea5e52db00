"""The questionnaires ppflow ships, as versioned YAML files: ``<name>.v<version>.yaml``.

They are data, read by :mod:`ppflow.services.questionnaires`; nothing here is imported."""
