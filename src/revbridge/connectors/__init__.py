"""ERP ports. base.py holds the protocol, receipts and the error tree every connector maps its
ERP's failures into; each module implements one ERP. Registered in registry.py."""
