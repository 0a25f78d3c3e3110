"""The catalog service: products, prices and stock; reserves and releases stock for the order saga."""
