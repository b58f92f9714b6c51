"""Objects whose attributes stay in CPython's compact layout, however many of them a process makes.

CPython 3.11+ keeps an object's attributes in a compact array laid out once for its class, and reads
``self.W`` several times faster from it than from a ``__dict__``. An attribute first set after the
object is made (``self.ws`` in ``forward``) joins that layout only while the class has room left, and
the room shrinks by one with each object made: a few dozen objects into a session (a notebook, a test
run, a sweep), such an attribute builds a ``__dict__`` for the object, and a small network's ``fit``
runs markedly slower.

So each attribute a class declares with a ``None`` class default (``mask = None  # [z > 0] of the last
forward``) is set on every new object before ``__init__`` runs: the first object of the class lays
them all out, while there is room, and every later one finds them there.
"""


class Compact:
    """Base of the objects ``fit`` steps through: layers, losses, optimizers, the model."""

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        names = cls.__dict__.get("_declared_")
        if names is None:  # the names declared None, bases first, still None for cls (not a subclass's property)
            names = tuple(dict.fromkeys(name for klass in reversed(cls.__mro__) for name, value in vars(klass).items()
                                        if value is None and not name.startswith("__") and getattr(cls, name) is None))
            type.__setattr__(cls, "_declared_", names)
        for name in names:
            object.__setattr__(self, name, None)
        return self
