"""The classical toolbox: one module per technique.

Each module holds pure numpy kernels (no I/O, no xarray, no globals) and a thin
public layer that lifts them onto ``(band, y, x)`` DataArrays with
``xarray.apply_ufunc`` or ``dask.array.map_blocks`` / ``map_overlap``, so the
same code runs in memory, chunked, or on a Dask cluster. Import the module you
need: ``from satlearn.ops import indices``.
"""
