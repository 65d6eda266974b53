"""The DAL's HTTP routes: parse, call ``registry``/``crud``, return. One module per resource."""
