"""Suite-wide setup: moto behaves as the embedded endpoint of ``make run`` does.

The transaction fix of chalicelib/runtime/emulator.py is applied to in-process
moto too, so the contract suite exercises the same emulator the e2e tests and
``make run`` use (and would catch a mistake in it).
"""
from chalicelib.runtime.emulator import copy_each_table_once_per_transaction

copy_each_table_once_per_transaction()
