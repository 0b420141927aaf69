"""Importers of public region-feature dumps (BUTD / LXMERT TSV, VinVL / Oscar TSV) into the region store."""
