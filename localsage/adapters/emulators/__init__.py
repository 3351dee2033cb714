"""The local AWS emulators: one interface (`base`), one class per kind (`moto`, `localstack`), `selection`."""
