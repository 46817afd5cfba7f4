"""The bank's side of the showroom: catalog, pricing, finance, orders, compliance, sharing (no pixels)."""
