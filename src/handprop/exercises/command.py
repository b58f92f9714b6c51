"""`handprop exercise list | start NAME [--dir D] | check FILE`: the command line of the exercises."""


def cmd_exercise(args):
    from .. import exercises

    if args.action == "list":
        for ex in exercises.EXERCISES:
            print(f"{ex.name:<22} {ex.title}: def {ex.signature} -> {ex.returns_text}")
        print("start one with: handprop exercise start NAME")
        return 0
    if args.action == "start":
        path = exercises.write(args.name, args.dir)
        ex = exercises.get(args.name)
        print(f"wrote {path}: write {ex.function} there, then run: handprop exercise check {path}")
        return 0
    result = exercises.check(args.file)
    print(result)
    return 0 if result.passed else 1


def add_exercise_command(sub):
    """`handprop exercise list | start NAME [--dir D] | check FILE`."""
    p = sub.add_parser("exercise", help="write a backward pass yourself; the checker names your mistake",
                       description="Exercises installed with handprop: list them, start one (a file with "
                       "the forward done and a TODO backward), check your answer.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the exercises, with their function signatures")
    start = actions.add_parser("start", help="write NAME.py: the forward done, the backward a TODO")
    start.add_argument("name", metavar="NAME", help="an exercise from `handprop exercise list`")
    start.add_argument("--dir", default=".", help="the folder to write NAME.py in (default: here)")
    check = actions.add_parser("check", help="check your file: exit 0 and PASSED when right, 1 when wrong")
    check.add_argument("file", metavar="FILE", help="the file `handprop exercise start` wrote, filled in")
    p.set_defaults(func=cmd_exercise)
